"""The interface every KMS and verifier client implements: in-process or over HTTP.

Workers, the gateway and the CLI talk to `KmsApi` / `AttestationApi`; the
embedded default and the distributed mode differ only in which
implementation they are handed.
"""

from __future__ import annotations

from typing import Protocol

from veil.trusted.crypto.signing import VerifyKey


class KmsApi(Protocol):
    @property
    def public_key(self) -> VerifyKey: ...

    def register_function(self, registration: bytes) -> bytes: ...

    def function_record(self, name: str) -> bytes: ...

    def release(self, key_request: bytes) -> bytes: ...


class AttestationApi(Protocol):
    def challenge(self) -> bytes: ...

    def attest(self, tee: str, evidence: bytes, binding: bytes, nonce: bytes) -> str: ...

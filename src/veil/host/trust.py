"""What the host needs from the KMS and the verifier, as the host sees them.

The host does not import `veil.kms`: it is handed an object with these
methods (the KMS's HTTP client in the embedded and distributed modes, the
broker itself in one-process wiring). Everything that passes through them
is signed or sealed by the KMS, the verifier or an enclave, so the host
only carries bytes: it relays challenges, evidence and key grants for the
enclaves, which make no network calls of their own.
"""

from __future__ import annotations

from typing import Protocol

from veil.trusted.crypto.signing import VerifyKey


class TrustServices(Protocol):
    """The KMS (function records, key release) and the verifier (challenges, attestation)."""

    @property
    def public_key(self) -> VerifyKey:
        """The KMS signing key: pinned by enclaves (through their evidence) and clients."""
        ...

    def register_function(self, registration: bytes) -> bytes:
        """Relay a tenant-signed registration; the answer is the KMS-signed function record."""
        ...

    def function_record(self, name: str) -> bytes: ...

    def versions(self, name: str) -> bytes:
        """The KMS-signed list of a function's retained versions (clients verify it)."""
        ...

    def remove_function(self, removal: bytes) -> None:
        """Relay a tenant-signed removal; the KMS deletes the function's keys and records."""
        ...

    def release(self, key_request: bytes) -> bytes:
        """Relay an enclave's key request; the answer is a grant sealed to that enclave."""
        ...

    def time_anchor(self, nonce: bytes) -> bytes:
        """Relay an enclave's clock nonce; the answer is the KMS's time, signed with it."""
        ...

    def challenge(self) -> bytes:
        """A fresh verifier nonce for an enclave's evidence."""
        ...

    def attest(self, tee: str, evidence: bytes, binding: bytes, nonce: bytes) -> str:
        """Relay an enclave's evidence; the answer is the verifier's signed attestation result."""
        ...

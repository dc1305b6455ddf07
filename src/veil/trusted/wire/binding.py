"""What an enclave's evidence binds: its public keys and the KMS it trusts.

`report_data = SHA-512(context || canonical CBOR of the binding || nonce)`:
64 bytes, the report-data size of SGX, TDX and SEV-SNP alike. Binding the
KMS key means the enclave's attestation result names the one KMS whose key
grants it will accept, so a host cannot point it at a KMS of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from veil.trusted.crypto.digest import sha512
from veil.trusted.crypto.hazmat import Suite
from veil.trusted.wire import cbor

_CONTEXT: Final = b"veil/report-data/v1\x00"
NONCE_SIZE: Final = 32


@dataclass(frozen=True)
class EnclaveBinding:
    signing_key: bytes
    hpke_suite: Suite
    hpke_key: bytes
    kms_key: bytes

    def to_bytes(self) -> bytes:
        # Only the verifier parses it: veil.attestation.result.parse_binding (tested round trip).
        return cbor.encode(
            {
                "sign": self.signing_key,
                "suite": self.hpke_suite.value,
                "hpke": self.hpke_key,
                "kms": self.kms_key,
            }
        )

    def report_data(self, nonce: bytes) -> bytes:
        if len(nonce) != NONCE_SIZE:
            raise ValueError("verifier nonces are 32 bytes")
        return sha512(_CONTEXT, self.to_bytes(), nonce)

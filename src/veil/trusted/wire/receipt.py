"""Receipts: the enclave's signature that a given request produced a given response.

One hardware quote per enclave, one cheap signature per request: with the
enclave's attestation result, a receipt proves which code (bundle digest,
snapshot hash) ran on which TEE for this exact request and response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from veil.trusted.crypto.signing import SigningKey, VerifyKey
from veil.trusted.errors import MalformedMessage
from veil.trusted.wire import signed

CONTEXT: Final = b"veil/receipt/v1"
MAX_RECEIPT: Final = 4096
_FIELDS: Final[dict[str, type | tuple[type, ...]]] = {
    "v": int,
    "fn": str,
    "rid": bytes,
    "request": bytes,
    "response": bytes,
    "bundle": bytes,
    "snapshot": bytes,
    "enclave": bytes,
    "ok": bool,
    "served": int,
}


@dataclass(frozen=True)
class Receipt:
    function: str
    request_id: bytes
    request_hash: bytes
    response_hash: bytes
    bundle_digest: bytes
    snapshot_hash: bytes
    enclave_key_id: bytes
    ok: bool
    served_ms: int
    """The enclave's trusted time when it sealed the response (`veil.trusted.clock`)."""

    def body(self) -> dict[str, Any]:
        return {
            "v": 2,
            "fn": self.function,
            "ok": self.ok,
            "rid": self.request_id,
            "bundle": self.bundle_digest,
            "served": self.served_ms,
            "enclave": self.enclave_key_id,
            "request": self.request_hash,
            "response": self.response_hash,
            "snapshot": self.snapshot_hash,
        }

    def sign(self, key: SigningKey) -> bytes:
        return signed.sign_document(key, CONTEXT, self.body(), ordered=True)

    @classmethod
    def verify(cls, data: bytes, key: VerifyKey) -> Receipt:
        """Parse a receipt signed by `key` (the enclave's attested signing key)."""
        m = signed.open_document(data, context=CONTEXT, key=key, limit=MAX_RECEIPT, fields=_FIELDS)
        if m["v"] != 2:
            raise MalformedMessage("unsupported receipt version")
        keys = ("fn", "rid", "request", "response", "bundle", "snapshot", "enclave", "ok", "served")
        return cls(*(m[k] for k in keys))

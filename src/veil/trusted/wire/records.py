"""Documents the KMS signs, function records and key grants, and the enclave's key request.

A function record is what clients pin: name, bundle digest, signer, HPKE
suite and public key, policy hash. A key grant carries a function's keys
(private key, secrets, code key) sealed (HPKE) to one attested enclave, and is
signed by the KMS so the enclave knows they are not keys the host made up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from veil.trusted.crypto import hazmat
from veil.trusted.crypto.signing import SigningKey, VerifyKey
from veil.trusted.errors import MalformedMessage
from veil.trusted.wire import cbor, signed

RECORD_CONTEXT: Final = b"veil/function-record/v1"
GRANT_CONTEXT: Final = b"veil/key-grant/v1"
MAX_DOCUMENT: Final = 64 * 1024


@dataclass(frozen=True)
class FunctionRecord:
    name: str
    tenant: str
    signer: bytes
    digest: bytes
    suite: hazmat.Suite
    public_key: bytes
    policy_hash: bytes
    version: int
    issued_ms: int
    expires_ms: int
    """KMS-signed validity: clients refuse the record after it (the KMS re-signs it well before)."""

    def body(self) -> dict[str, Any]:
        return {
            "v": 2,
            "name": self.name,
            "tenant": self.tenant,
            "signer": self.signer,
            "digest": self.digest,
            "suite": self.suite.value,
            "public_key": self.public_key,
            "policy": self.policy_hash,
            "version": self.version,
            "issued": self.issued_ms,
            "expires": self.expires_ms,
        }

    def sign(self, kms_key: SigningKey) -> bytes:
        return signed.sign_document(kms_key, RECORD_CONTEXT, self.body())

    @classmethod
    def verify(cls, data: bytes, kms_key: VerifyKey) -> FunctionRecord:
        m = signed.open_document(
            data,
            context=RECORD_CONTEXT,
            key=kms_key,
            limit=MAX_DOCUMENT,
            fields={
                "v": int,
                "name": str,
                "tenant": str,
                "signer": bytes,
                "digest": bytes,
                "suite": str,
                "public_key": bytes,
                "policy": bytes,
                "version": int,
                "issued": int,
                "expires": int,
            },
        )
        suite = hazmat.parse_suite(m["suite"])
        if m["v"] != 2 or len(m["public_key"]) != suite.public_key_size:
            raise MalformedMessage("bad function record")
        parsed = {**m, "suite": suite}
        keys = ("name", "tenant", "signer", "digest", "suite", "public_key", "policy")
        return cls(*(parsed[k] for k in (*keys, "version", "issued", "expires")))


@dataclass(frozen=True)
class KeyRequest:
    """An enclave asking for a function's keys: its attestation result and the bundle digest."""

    function: str
    digest: bytes
    attestation: str

    def to_bytes(self) -> bytes:
        return cbor.encode({"fn": self.function, "digest": self.digest, "token": self.attestation})

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyRequest:
        m = cbor.decode_map(
            data, limit=MAX_DOCUMENT, fields={"fn": str, "digest": bytes, "token": str}
        )
        return cls(m["fn"], m["digest"], m["token"])


def grant_info(function: str, digest: bytes, version: int, enclave_key_id: bytes) -> bytes:
    """HPKE info for a key grant: binds the sealed keys to one function version and enclave."""
    return b"veil/grant/v2\x00" + cbor.encode([function, digest, version, enclave_key_id])


@dataclass(frozen=True)
class KeyGrant:
    """Sealed function keys for one enclave, with their record; expiring, so that a host can hold
    back a redeploy from an enclave only until `expires_ms`."""

    record: bytes
    enclave_key_id: bytes
    sealed: bytes
    expires_ms: int

    def sign(self, kms_key: SigningKey) -> bytes:
        body = {"record": self.record, "enclave": self.enclave_key_id, "sealed": self.sealed}
        return signed.sign_document(kms_key, GRANT_CONTEXT, {**body, "expires": self.expires_ms})

    @classmethod
    def verify(cls, data: bytes, kms_key: VerifyKey) -> KeyGrant:
        m = signed.open_document(
            data,
            context=GRANT_CONTEXT,
            key=kms_key,
            limit=MAX_DOCUMENT,
            fields={"record": bytes, "enclave": bytes, "sealed": bytes, "expires": int},
        )
        return cls(m["record"], m["enclave"], m["sealed"], m["expires"])


@dataclass(frozen=True)
class GrantedKeys:
    """The plaintext inside a grant: the function's HPKE private key, secrets, code and log key."""

    private_key: bytes
    secrets: dict[str, bytes]
    code_key: bytes
    log_key: bytes = b""  # the tenant's, from its signed registration: none, no sealed logs

    def to_bytes(self) -> bytes:
        keys = {"private_key": self.private_key, "secrets": self.secrets, "code_key": self.code_key}
        return cbor.encode({**keys, "log_key": self.log_key})

    @classmethod
    def from_bytes(cls, data: bytes) -> GrantedKeys:
        fields = {"private_key": bytes, "secrets": dict, "code_key": bytes, "log_key?": bytes}
        m = cbor.decode_map(data, limit=MAX_DOCUMENT, fields=fields)
        if not all(isinstance(k, str) and isinstance(v, bytes) for k, v in m["secrets"].items()):
            raise MalformedMessage("secrets must map names to bytes")
        return cls(m["private_key"], m["secrets"], m["code_key"], m.get("log_key", b""))

"""Attestation results: what the verifier signs about one enclave (a JWT, EdDSA).

The token names the TEE type, measurement, TCB status and advisories, and
the enclave's binding (its signing and HPKE keys and the KMS it trusts).
The KMS releases keys against it and clients check receipts against it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from veil.attestation.errors import TokenInvalid
from veil.attestation.verifier import Claims
from veil.trusted.crypto.hazmat import parse_suite
from veil.trusted.crypto.signing import SigningKey, VerifyKey
from veil.trusted.errors import MalformedMessage
from veil.trusted.wire import cbor
from veil.trusted.wire.binding import EnclaveBinding

ALGORITHM: Final = "EdDSA"
ISSUER: Final = "veil-verifier"


def parse_binding(data: bytes) -> EnclaveBinding:
    """An enclave's binding (`veil.trusted.wire.binding`) as its evidence presents it."""
    m = cbor.decode_map(
        data, limit=4096, fields={"sign": bytes, "suite": str, "hpke": bytes, "kms": bytes}
    )
    return EnclaveBinding(m["sign"], parse_suite(m["suite"]), m["hpke"], m["kms"])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class AttestationResult:
    tee: str
    measurement: str
    tcb_status: str
    advisories: tuple[str, ...]
    debug: bool
    binding: EnclaveBinding
    issued_at: int
    expires_at: int
    details: dict[str, str]

    @property
    def enclave_key(self) -> VerifyKey:
        return VerifyKey(self.binding.signing_key)

    def claims(self) -> dict[str, Any]:
        return {
            "iss": ISSUER,
            "sub": self.enclave_key.key_id.hex(),
            "iat": self.issued_at,
            "exp": self.expires_at,
            "tee": self.tee,
            "measurement": self.measurement,
            "tcb_status": self.tcb_status,
            "advisories": list(self.advisories),
            "debug": self.debug,
            "binding": _b64(self.binding.to_bytes()),
            "details": self.details,
        }

    @classmethod
    def from_claims(
        cls, claims: Claims, binding: EnclaveBinding, now: int, ttl: int
    ) -> AttestationResult:
        return cls(
            claims.tee,
            claims.measurement,
            claims.tcb_status,
            claims.advisories,
            claims.debug,
            binding,
            now,
            now + ttl,
            dict(claims.details),
        )


def issue_token(key: SigningKey, result: AttestationResult) -> str:
    headers = {"kid": key.public.key_id.hex()}
    private = Ed25519PrivateKey.from_private_bytes(key.to_bytes())  # PyJWT takes its own type
    return jwt.encode(result.claims(), private, algorithm=ALGORITHM, headers=headers)


def verify_token(
    token: str, verifier_keys: Iterable[VerifyKey], *, now: float
) -> AttestationResult:
    """Check the signature (by any trusted verifier key) and expiry at `now`."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        raise TokenInvalid("attestation result is not a JWT") from None
    key = next((k for k in verifier_keys if k.key_id.hex() == kid), None)
    if key is None:
        raise TokenInvalid("attestation result is signed by an unknown verifier key")
    try:
        c = jwt.decode(
            token,
            Ed25519PublicKey.from_public_bytes(key.raw),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"verify_exp": False, "verify_iat": False, "require": ["exp", "iat"]},
        )
        binding = parse_binding(_unb64(c["binding"]))
        result = AttestationResult(
            str(c["tee"]),
            str(c["measurement"]),
            str(c["tcb_status"]),
            tuple(str(a) for a in c["advisories"]),
            bool(c["debug"]),
            binding,
            int(c["iat"]),
            int(c["exp"]),
            {str(k): str(v) for k, v in c["details"].items()},
        )
    except (jwt.PyJWTError, MalformedMessage, KeyError, TypeError, ValueError, AttributeError):
        raise TokenInvalid("attestation result is malformed or its signature fails") from None
    _check_validity(result, now)
    return result


def _check_validity(result: AttestationResult, now: float) -> None:
    if not result.issued_at - 60 <= now < result.expires_at:
        raise TokenInvalid("attestation result has expired")


class TokenCache:
    """Attestation results already verified, by their exact token.

    An enclave answers every request with the same token until it is re-attested,
    and checking the JWT is most of what a client spends verifying a response.
    A hit skips only the signature check of bytes this cache saw verified against
    the same keys; the validity window is checked at every use.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._verified: dict[tuple[str, tuple[bytes, ...]], AttestationResult] = {}

    def verify(
        self, token: str, verifier_keys: Iterable[VerifyKey], *, now: float
    ) -> AttestationResult:
        keys = tuple(verifier_keys)
        slot = (token, tuple(k.raw for k in keys))
        result = self._verified.get(slot)
        if result is None:
            result = verify_token(token, keys, now=now)
            if len(self._verified) >= self._size:
                del self._verified[next(iter(self._verified))]
            self._verified[slot] = result
        _check_validity(result, now)
        return result


def utc_now() -> float:
    return datetime.now(UTC).timestamp()

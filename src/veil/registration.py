"""A tenant's registration of a function (v2), and the KMS seal key it is sealed to.

The host relays every registration (the gateway passes it to the KMS), so it
is two parts. In the clear, signed by the tenant, what the KMS checks and the
host may read anyway: tenant, function name, bundle digest, TEE policy, HPKE
suite, issue time. `sealed`: HPKE to the KMS's seal key, the deploy's code key
(under which the bundle's code travels and is stored) and the function's
secrets, bound to (tenant, name, digest, issued) so no other registration,
signed by anyone, can carry it to the KMS. Only the KMS opens it; the keys
then leave it only inside grants to attested enclaves.

Untrusted code (the tenant side and the KMS), so not in `veil.trusted`; the
enclave never reads a registration.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from veil.attestation.policy import Policy
from veil.trusted.crypto import hazmat, recipes
from veil.trusted.crypto.signing import SigningKey, VerifyKey
from veil.trusted.errors import MalformedMessage
from veil.trusted.wire import cbor, signed

REGISTER_CONTEXT: Final = b"veil/register-function/v2"
SEAL_KEY_CONTEXT: Final = b"veil/kms-seal-key/v1"
SEAL_SUITE: Final = hazmat.Suite.PQ_HYBRID
"""Code keys and secrets are long-lived: sealed to the KMS post-quantum, like grants."""
MAX_REGISTRATION: Final = 256 * 1024
CODE_KEY_SIZE: Final = hazmat.AEAD_KEY_SIZE


@dataclass(frozen=True)
class SealKey:
    """The KMS's HPKE public key that registrations seal to, with the KMS's signature on it.

    Clients pin it beside the KMS signing key; the signature lets one that
    pinned only the signing key (or reads it back from a config file) check
    that the seal key is that KMS's, not one the network or the host put there.
    """

    suite: hazmat.Suite
    public_key: bytes
    signature: bytes

    @classmethod
    def signed(cls, key: hazmat.HpkePrivateKey, kms_key: SigningKey) -> SealKey:
        message = _seal_message(key.suite, key.public_bytes)
        return cls(key.suite, key.public_bytes, kms_key.sign(SEAL_KEY_CONTEXT, message))

    @classmethod
    def from_json(cls, obj: Any, kms_key: VerifyKey) -> SealKey:
        """Parse `{"suite", "key", "sig"}` (hex) and check the signature by `kms_key`."""
        try:
            suite = hazmat.parse_suite(obj["suite"])
            key, sig = bytes.fromhex(obj["key"]), bytes.fromhex(obj["sig"])
        except (TypeError, KeyError, ValueError):
            raise MalformedMessage("KMS seal key does not parse") from None
        if len(key) != suite.public_key_size:
            raise MalformedMessage("KMS seal key has the wrong length for its suite")
        kms_key.verify(SEAL_KEY_CONTEXT, _seal_message(suite, key), sig)
        return cls(suite, key, sig)

    def to_json(self) -> dict[str, str]:
        key, sig = self.public_key.hex(), self.signature.hex()
        return {"suite": self.suite.value, "key": key, "sig": sig}


def _seal_message(suite: hazmat.Suite, public_key: bytes) -> bytes:
    return cbor.encode([suite.value, public_key])


def registration_info(tenant: str, name: str, digest: bytes, issued_us: int) -> bytes:
    """HPKE info of a registration's sealed part: the clear fields it belongs to."""
    return b"veil/registration/v2\x00" + cbor.encode([tenant, name, digest, issued_us])


@dataclass(frozen=True)
class SealedPart:
    """What a registration seals to the KMS: the deploy's code key, the function's secrets and
    the tenant's log key (public, but kept from the host: see `docs/functions.md`)."""

    code_key: bytes
    secrets: dict[str, bytes]
    log_key: bytes = b""

    def to_bytes(self) -> bytes:
        obj = {"code_key": self.code_key, "secrets": self.secrets}
        return cbor.encode({**obj, "log_key": self.log_key} if self.log_key else obj)

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedPart:
        fields = {"code_key": bytes, "secrets": dict, "log_key?": bytes}
        m = cbor.decode_map(data, limit=MAX_REGISTRATION, fields=fields)
        if len(m["code_key"]) != CODE_KEY_SIZE:
            raise MalformedMessage("code key has the wrong length")
        if not all(isinstance(k, str) and isinstance(v, bytes) for k, v in m["secrets"].items()):
            raise MalformedMessage("secrets must map names to bytes")
        log_key = m.get("log_key", b"")
        if log_key and len(log_key) != recipes.LOG_SUITE.public_key_size:
            raise MalformedMessage("tenant log key has the wrong length")
        return cls(m["code_key"], m["secrets"], log_key)


@dataclass(frozen=True)
class Registration:
    """What a tenant signs to register (or redeploy) a function.

    `issued_us` makes each registration usable once: the KMS accepts it only
    within its registration window (five minutes) and only if it is newer
    than the function's current registration, so a host that kept an old
    signed registration cannot replay it to roll the function back.
    `code_key` is fresh per registration: seal the bundle under it
    (`SealedBundle.seal`) and deploy the two together.
    """

    tenant: str
    name: str
    digest: bytes
    policy: Policy
    suite: hazmat.Suite = hazmat.Suite.X25519
    secrets: dict[str, bytes] = field(default_factory=dict)
    issued_us: int = field(default_factory=lambda: time.time_ns() // 1000)
    code_key: bytes = field(default_factory=recipes.new_symmetric_key, repr=False)
    log_key: bytes = b""
    """The tenant's log public key (`recipes.LOG_SUITE`): enclaves seal what the function prints
    to it. Empty: prints go only to the caller, inside its sealed response."""

    def sign(self, key: SigningKey, seal_key: SealKey) -> bytes:
        """The signed registration, its code key and secrets sealed to the KMS's `seal_key`."""
        info = registration_info(self.tenant, self.name, self.digest, self.issued_us)
        part = SealedPart(self.code_key, self.secrets, self.log_key).to_bytes()
        sealed = recipes.seal_grant(seal_key.suite, seal_key.public_key, part, info)
        return signed.sign_document(
            key,
            REGISTER_CONTEXT,
            {
                "v": 2,
                "tenant": self.tenant,
                "name": self.name,
                "digest": self.digest,
                "policy": self.policy.to_obj(),
                "suite": self.suite.value,
                "issued": self.issued_us,
                "sealed": sealed,
            },
        )


FIELDS: Final = {
    "v": int,
    "tenant": str,
    "name": str,
    "digest": bytes,
    "policy": dict,
    "suite": str,
    "issued": int,
    "sealed": bytes,
}


def open_registration(
    data: bytes, *, tenant_key: Callable[[str], VerifyKey], seal_key: hazmat.HpkePrivateKey
) -> Registration:
    """The KMS's side: check the signature of the tenant it names, then open the sealed part.

    `tenant_key` looks up the named tenant's key (and refuses an unknown
    tenant in its own terms). A sealed part lifted from another registration
    does not open (`DecryptionFailed`): its info names other clear fields.
    """
    body, sig = signed.split_document(data, limit=MAX_REGISTRATION)
    m = cbor.decode_map(body, limit=MAX_REGISTRATION, fields=FIELDS)
    tenant_key(m["tenant"]).verify(REGISTER_CONTEXT, body, sig)
    if m["v"] != 2 or len(m["digest"]) != 32:
        raise MalformedMessage("registration is not v2 with a 32-byte bundle digest")
    info = registration_info(m["tenant"], m["name"], m["digest"], m["issued"])
    part = SealedPart.from_bytes(recipes.open_grant(seal_key, m["sealed"], info))
    policy = Policy.from_obj(m["policy"])
    suite = hazmat.parse_suite(m["suite"])
    return Registration(
        m["tenant"],
        m["name"],
        m["digest"],
        policy,
        suite,
        part.secrets,
        m["issued"],
        part.code_key,
        part.log_key,
    )


def split_pinned(name: str) -> tuple[str, int | None]:
    """`acme/hello@3` as ("acme/hello", 3); a name without `@` as (name, None). A pin that
    is not a number is version 0, which no function has."""
    base, at, pinned = name.rpartition("@")
    if not at:
        return name, None
    return base, int(pinned) if pinned.isdigit() else 0


REMOVE_CONTEXT: Final = b"veil/remove-function/v1"
VERSIONS_CONTEXT: Final = b"veil/function-versions/v1"


@dataclass(frozen=True)
class Removal:
    """What a tenant signs to remove a function: every version's keys, records and bundles.

    `issued_us` orders it with the function's registrations, under the same
    rule: the KMS accepts it only within its registration window and only
    if it is newer than the registration in force, and it keeps the removal
    (a tombstone), so neither it nor a registration from before it can be replayed.
    """

    tenant: str
    name: str
    issued_us: int = field(default_factory=lambda: time.time_ns() // 1000)

    def sign(self, key: SigningKey) -> bytes:
        body = {"tenant": self.tenant, "name": self.name, "issued": self.issued_us}
        return signed.sign_document(key, REMOVE_CONTEXT, body)


def open_removal(data: bytes, *, tenant_key: Callable[[str], VerifyKey]) -> Removal:
    """The KMS's side: check the signature of the tenant the removal names."""
    body, sig = signed.split_document(data, limit=MAX_REGISTRATION)
    m = cbor.decode_map(
        body, limit=MAX_REGISTRATION, fields={"tenant": str, "name": str, "issued": int}
    )
    tenant_key(m["tenant"]).verify(REMOVE_CONTEXT, body, sig)
    return Removal(m["tenant"], m["name"], m["issued"])


@dataclass(frozen=True)
class RetainedVersion:
    version: int
    digest: bytes
    issued_us: int
    """When the tenant signed its registration: its deploy time."""


@dataclass(frozen=True)
class VersionList:
    """The KMS's signed answer to "which versions of NAME can still be invoked as NAME@N".

    Short-lived like a function record (`expires_ms`), so a host cannot keep
    showing a client a list from before a deploy, a prune or a removal for long.
    """

    name: str
    current: int
    versions: tuple[RetainedVersion, ...]
    issued_ms: int
    expires_ms: int

    def sign(self, key: SigningKey) -> bytes:
        rows = [[v.version, v.digest, v.issued_us] for v in self.versions]
        body = {
            "name": self.name,
            "current": self.current,
            "versions": rows,
            "issued_ms": self.issued_ms,
            "expires_ms": self.expires_ms,
        }
        return signed.sign_document(key, VERSIONS_CONTEXT, body)

    @classmethod
    def verify(cls, data: bytes, kms_key: VerifyKey) -> VersionList:
        fields: dict[str, type | tuple[type, ...]] = {
            "name": str,
            "current": int,
            "versions": list,
            "issued_ms": int,
            "expires_ms": int,
        }
        m = signed.open_document(
            data, context=VERSIONS_CONTEXT, key=kms_key, limit=MAX_REGISTRATION, fields=fields
        )
        rows = tuple(_retained(row) for row in m["versions"])
        return cls(m["name"], m["current"], rows, m["issued_ms"], m["expires_ms"])


def _retained(row: Any) -> RetainedVersion:
    shape = (int, bytes, int)
    if not isinstance(row, list) or len(row) != 3 or isinstance(row[0], bool):
        raise MalformedMessage("a version list row is not [version, digest, issued]")
    if not all(isinstance(v, t) for v, t in zip(row, shape, strict=True)):
        raise MalformedMessage("a version list row is not [version, digest, issued]")
    return RetainedVersion(row[0], row[1], row[2])


def removal_name(data: bytes) -> str:
    """The function a removal names, unchecked: for the host, once the KMS has accepted it."""
    body, _sig = signed.split_document(data, limit=MAX_REGISTRATION)
    name: str = cbor.decode_map(
        body, limit=MAX_REGISTRATION, fields={"tenant": str, "name": str, "issued": int}
    )["name"]
    return name

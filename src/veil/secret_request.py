"""A tenant's signed write to one of a function's secrets, and its signed listing query.

`veil secret set` posts these straight to the KMS, never through the gateway.
A write is tenant-signed and names (tenant, function, secret, op, issued) in
the clear; the value travels sealed (HPKE) to the KMS's seal key with those
same fields as its info, so a value lifted into another write does not open.
`issued_us` orders writes: the KMS refuses one outside its time window or not
newer than the last write to that secret (`StaleSecretWrite`), so a replayed
old `set` cannot roll a secret back, and a replayed `rm` cannot undo a `set`.

Untrusted code (tenant side and KMS); the enclave only ever sees the value
inside a key grant.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from veil.registration import SealKey
from veil.trusted.crypto import hazmat, recipes
from veil.trusted.crypto.signing import SigningKey, VerifyKey
from veil.trusted.errors import MalformedMessage
from veil.trusted.wire import cbor, signed

WRITE_CONTEXT: Final = b"veil/secret-write/v1"
LIST_CONTEXT: Final = b"veil/secret-list/v1"
MAX_SECRET: Final = 64 * 1024
MAX_WRITE: Final = MAX_SECRET + 4096
NAME: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
"""Secret and config names: lower case, so `API_TOKEN` and `api_token` cannot both exist."""

Op = Literal["set", "rm"]


def check_name(name: str) -> str:
    """`name` if it is a valid variable name (secret or config), else `ValueError`."""
    if not NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a variable name: 1-64 of [a-z0-9_.-], lower case")
    return name


def value_info(tenant: str, function: str, name: str, issued_us: int) -> bytes:
    """HPKE info of a write's sealed value: the clear fields it belongs to."""
    return b"veil/secret-value/v1\x00" + cbor.encode([tenant, function, name, issued_us])


def _now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True)
class SecretWrite:
    """Set (`value` given) or remove (`value` None) one secret of one function."""

    tenant: str
    function: str
    name: str
    value: bytes | None = field(default=None, repr=False)
    issued_us: int = field(default_factory=_now_us)

    @property
    def op(self) -> Op:
        return "rm" if self.value is None else "set"

    def sign(self, key: SigningKey, seal_key: SealKey) -> bytes:
        sealed = b""
        if self.value is not None:
            info = value_info(self.tenant, self.function, self.name, self.issued_us)
            sealed = recipes.seal_grant(seal_key.suite, seal_key.public_key, self.value, info)
        body = {
            "tenant": self.tenant,
            "function": self.function,
            "name": self.name,
            "op": self.op,
            "issued": self.issued_us,
            "sealed": sealed,
        }
        return signed.sign_document(key, WRITE_CONTEXT, body)


WRITE_FIELDS: Final = {
    "tenant": str,
    "function": str,
    "name": str,
    "op": str,
    "issued": int,
    "sealed": bytes,
}


def open_write(
    data: bytes, *, tenant_key: Callable[[str], VerifyKey], seal_key: hazmat.HpkePrivateKey
) -> SecretWrite:
    """The KMS's side: check the named tenant's signature, then open the sealed value."""
    body, sig = signed.split_document(data, limit=MAX_WRITE)
    m = cbor.decode_map(body, limit=MAX_WRITE, fields=WRITE_FIELDS)
    tenant_key(m["tenant"]).verify(WRITE_CONTEXT, body, sig)
    try:
        check_name(m["name"])
    except ValueError as exc:
        raise MalformedMessage(str(exc)) from None
    if m["op"] == "rm":
        if m["sealed"]:
            raise MalformedMessage("a secret removal carries no value")
        return SecretWrite(m["tenant"], m["function"], m["name"], None, m["issued"])
    if m["op"] != "set":
        raise MalformedMessage("secret write op must be 'set' or 'rm'")
    info = value_info(m["tenant"], m["function"], m["name"], m["issued"])
    value = recipes.open_grant(seal_key, m["sealed"], info)
    if not value or len(value) > MAX_SECRET:
        raise MalformedMessage(f"a secret value is 1 to {MAX_SECRET} bytes")
    return SecretWrite(m["tenant"], m["function"], m["name"], value, m["issued"])


@dataclass(frozen=True)
class SecretList:
    """A tenant's signed request to see a function's secret names and versions (no values)."""

    tenant: str
    function: str
    issued_us: int = field(default_factory=_now_us)

    def sign(self, key: SigningKey) -> bytes:
        body = {"tenant": self.tenant, "function": self.function, "issued": self.issued_us}
        return signed.sign_document(key, LIST_CONTEXT, body)


def open_list(data: bytes, *, tenant_key: Callable[[str], VerifyKey]) -> SecretList:
    body, sig = signed.split_document(data, limit=4096)
    fields: dict[str, Any] = {"tenant": str, "function": str, "issued": int}
    m = cbor.decode_map(body, limit=4096, fields=fields)
    tenant_key(m["tenant"]).verify(LIST_CONTEXT, body, sig)
    return SecretList(m["tenant"], m["function"], m["issued"])

"""The KMS's versioned secrets: `veil secret set/rm/ls`, and what every key grant carries.

Each (function, secret) row keeps a version that grows with every write, the
issue time of the last write (the replay guard), and the value sealed at rest
(none once removed: the row stays as a tombstone so a replayed older `set`
is still refused). Secrets that arrive in a deploy's registration are written
here too, as a new version, so one table answers `ls` and feeds grants.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from veil.kms.errors import NamespaceViolation, StaleSecretWrite, UnknownFunctionName
from veil.kms.store import KmsStore
from veil.secret_request import SecretWrite, open_list, open_write
from veil.trusted.crypto import hazmat
from veil.trusted.crypto.signing import VerifyKey

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS kms_secrets (
    function TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    issued_us INTEGER NOT NULL,
    sealed_value BLOB,
    PRIMARY KEY (function, name)
);
"""
WINDOW_US: Final = 5 * 60 * 1_000_000
"""How far a write's issue time may be from the KMS's clock (as for registrations)."""
log = logging.getLogger("veil.kms")


@dataclass(frozen=True)
class SecretEntry:
    """What `veil secret ls` shows: never the value."""

    name: str
    version: int
    updated_us: int
    removed: bool

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "updated_us": self.updated_us,
            "removed": self.removed,
        }


class SecretKeeper:
    """Owns the `kms_secrets` table: checks signed writes and listings, answers grants."""

    def __init__(
        self,
        store: KmsStore,
        seal_key: hazmat.HpkePrivateKey,
        tenant_key: Callable[[str], VerifyKey],
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._seal = seal_key
        self._tenant_key = tenant_key
        self._clock = clock
        self._lock = threading.Lock()
        with store.transaction() as db:
            db.execute(SCHEMA)

    def write(self, data: bytes) -> SecretEntry:
        """Apply a tenant-signed `set` or `rm`; refuse a replay or a stale write."""
        w = open_write(data, tenant_key=self._tenant_key, seal_key=self._seal)
        self._check_owner(w.tenant, w.function)
        if abs(int(self._clock() * 1_000_000) - w.issued_us) > WINDOW_US:
            raise StaleSecretWrite("secret write is outside the KMS's time window")
        entry = self._put(w)
        log.info("secret %s of %s now version %d", w.name, w.function, entry.version)
        return entry

    def from_deploy(self, function: str, secrets: Mapping[str, bytes], issued_us: int) -> None:
        """A registration's secrets, already checked by the broker: each a new version."""
        for name, value in sorted(secrets.items()):
            self._put(SecretWrite("", function, name, value, issued_us), strict=False)

    def listing(self, data: bytes) -> list[SecretEntry]:
        """Names, versions and times of a function's secrets, for its tenant's signed query."""
        q = open_list(data, tenant_key=self._tenant_key)
        self._check_owner(q.tenant, q.function)
        if abs(int(self._clock() * 1_000_000) - q.issued_us) > WINDOW_US:
            raise StaleSecretWrite("secret listing is outside the KMS's time window")
        rows = self._store.query(
            "SELECT name, version, issued_us, sealed_value IS NULL FROM kms_secrets"
            " WHERE function = ? ORDER BY name",
            (q.function,),
        )
        return [SecretEntry(r[0], r[1], r[2], bool(r[3])) for r in rows]

    def current(self, function: str) -> dict[str, bytes]:
        """The values a grant of `function` carries now (removed secrets left out)."""
        rows = self._store.query(
            "SELECT name, sealed_value FROM kms_secrets"
            " WHERE function = ? AND sealed_value IS NOT NULL",
            (function,),
        )
        return {r[0]: self._store.open_at_rest(_label(function, r[0]), r[1]) for r in rows}

    def _check_owner(self, tenant: str, function: str) -> None:
        if not function.startswith(tenant + "/"):
            raise NamespaceViolation("a tenant's secrets belong to functions in its namespace")
        if not self._store.query("SELECT 1 FROM functions WHERE name = ?", (function,)):
            raise UnknownFunctionName(f"function {function!r} is not registered")

    def _put(self, w: SecretWrite, *, strict: bool = True) -> SecretEntry:
        """Write `w` as the next version; `strict`: refuse it unless newer than the last."""
        with self._lock, self._store.transaction() as db:
            old = db.execute(
                "SELECT version, issued_us FROM kms_secrets WHERE function = ? AND name = ?",
                (w.function, w.name),
            ).fetchone()
            if strict and old is not None and w.issued_us <= old[1]:
                raise StaleSecretWrite("secret write is not newer than the last one")
            version = 1 if old is None else old[0] + 1
            issued = w.issued_us if old is None else max(w.issued_us, old[1])
            sealed = None
            if w.value is not None:
                sealed = self._store.seal_at_rest(_label(w.function, w.name), w.value)
            db.execute(
                "INSERT OR REPLACE INTO kms_secrets VALUES (?, ?, ?, ?, ?)",
                (w.function, w.name, version, issued, sealed),
            )
        return SecretEntry(w.name, version, issued, w.value is None)


def _label(function: str, name: str) -> str:
    """At-rest associated data: a sealed value copied to another row does not open."""
    return f"secret\x00{function}\x00{name}"

"""The KMS's durable state: SQLite, with every private key encrypted at rest.

Private keys, code keys and secrets are sealed with AES-256-GCM under a master
key kept in a separate file (mode 0600), with the function name as associated
data, so a row copied onto another function does not open.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veil.trusted.crypto import hazmat, recipes

SCHEMA = """
CREATE TABLE IF NOT EXISTS kms_identity (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sealed_key BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS kms_seal_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sealed_key BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS tenants (id TEXT PRIMARY KEY, signing_key BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS functions (
    name TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants(id),
    digest BLOB NOT NULL,
    policy BLOB NOT NULL,
    suite TEXT NOT NULL,
    sealed_private BLOB NOT NULL,
    sealed_secrets BLOB NOT NULL,
    record BLOB NOT NULL,
    version INTEGER NOT NULL,
    issued_us INTEGER NOT NULL
);
"""
VERSIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS function_versions (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest BLOB NOT NULL,
    policy BLOB NOT NULL,
    suite TEXT NOT NULL,
    sealed_private BLOB NOT NULL,
    sealed_secrets BLOB NOT NULL,
    issued_us INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS removed_functions (
    name TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    issued_us INTEGER NOT NULL
);
"""
"""The retained versions of each function (`NAME@N`), and the tombstones of removed ones."""


@dataclass(frozen=True)
class FunctionRow:
    name: str
    tenant: str
    digest: bytes
    policy: bytes
    suite: str
    private_key: bytes
    secrets: bytes
    """The registration's sealed part as the KMS opened it (`veil.registration.SealedPart`):
    the deploy's code key and the function's secrets."""
    record: bytes
    version: int
    issued_us: int


def load_or_create_master_key(path: Path) -> bytes:
    if path.exists():
        key = path.read_bytes()
        if len(key) != hazmat.AEAD_KEY_SIZE:
            raise ValueError(f"{path} is not a KMS master key")
        return key
    key = recipes.new_symmetric_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


class KmsStore:
    def __init__(self, db_path: Path, master_key: bytes) -> None:
        self._master = master_key
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA + VERSIONS_SCHEMA)
        self._lock = threading.Lock()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One write transaction, for tables kept beside this store's (`veil.kms.secrets`)."""
        return self._tx()

    def query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, args).fetchall()

    def seal_at_rest(self, label: str, data: bytes) -> bytes:
        return self._seal(label, data)

    def open_at_rest(self, label: str, data: bytes) -> bytes:
        return self._open(label, data)

    def _seal(self, label: str, data: bytes) -> bytes:
        return recipes.seal_at_rest(self._master, label, data)

    def _open(self, label: str, data: bytes) -> bytes:
        return recipes.open_at_rest(self._master, label, data)

    def identity(self) -> bytes | None:
        row = self._db.execute("SELECT sealed_key FROM kms_identity").fetchone()
        return None if row is None else self._open("kms-identity", row[0])

    def set_identity(self, key: bytes) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO kms_identity VALUES (1, ?)", (self._seal("kms-identity", key),))

    def seal_key(self) -> bytes | None:
        """The private half of the key registrations are sealed to (`veil.registration`)."""
        row = self._db.execute("SELECT sealed_key FROM kms_seal_key").fetchone()
        return None if row is None else self._open("kms-seal-key", row[0])

    def set_seal_key(self, key: bytes) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO kms_seal_key VALUES (1, ?)", (self._seal("kms-seal-key", key),))

    def add_tenant(self, tenant: str, signing_key: bytes) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO tenants VALUES (?, ?)", (tenant, signing_key))

    def tenant_key(self, tenant: str) -> bytes | None:
        row = self._db.execute("SELECT signing_key FROM tenants WHERE id = ?", (tenant,)).fetchone()
        return None if row is None else bytes(row[0])

    def put_function(self, row: FunctionRow, retain: int | None = None) -> None:
        """Store `row` as the function in force; with `retain`, also as one of its
        versions, deleting those `retain` or more versions older (keys and all)."""
        with self._tx() as db:
            if retain is not None:
                self._put_version(db, row, retain)
            db.execute(
                "INSERT OR REPLACE INTO functions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.name,
                    row.tenant,
                    row.digest,
                    row.policy,
                    row.suite,
                    self._seal(row.name, row.private_key),
                    self._seal(row.name, row.secrets),
                    row.record,
                    row.version,
                    row.issued_us,
                ),
            )

    def set_record(self, name: str, record: bytes) -> None:
        """Replace a function's signed record with a re-signed one (same version, new validity)."""
        with self._tx() as db:
            db.execute("UPDATE functions SET record = ? WHERE name = ?", (record, name))

    def function(self, name: str) -> FunctionRow | None:
        r = self._db.execute("SELECT * FROM functions WHERE name = ?", (name,)).fetchone()
        if r is None:
            return None
        return FunctionRow(
            r[0],
            r[1],
            bytes(r[2]),
            bytes(r[3]),
            r[4],
            self._open(r[0], r[5]),
            self._open(r[0], r[6]),
            bytes(r[7]),
            r[8],
            r[9],
        )

    def function_names(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM functions ORDER BY name")]

    def _put_version(self, db: sqlite3.Connection, row: FunctionRow, retain: int) -> None:
        label = f"{row.name}@{row.version}"
        db.execute(
            "INSERT OR REPLACE INTO function_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.name,
                row.version,
                row.digest,
                row.policy,
                row.suite,
                self._seal(label, row.private_key),
                self._seal(label, row.secrets),
                row.issued_us,
            ),
        )
        db.execute(
            "DELETE FROM function_versions WHERE name = ? AND version <= ?",
            (row.name, row.version - retain),
        )

    def version(self, name: str, version: int) -> FunctionRow | None:
        """Retained version `version` of `name`, as a row named `name@version` (no record)."""
        r = self._db.execute(
            "SELECT * FROM function_versions WHERE name = ? AND version = ?", (name, version)
        ).fetchone()
        if r is None:
            return None
        label = f"{name}@{version}"
        tenant = name.partition("/")[0]
        private, secrets = self._open(label, r[5]), self._open(label, r[6])
        return FunctionRow(
            label, tenant, bytes(r[2]), bytes(r[3]), r[4], private, secrets, b"", version, r[7]
        )

    def versions(self, name: str) -> list[tuple[int, bytes, int]]:
        """(version, digest, issued_us) of each retained version of `name`, oldest first."""
        rows = self._db.execute(
            "SELECT version, digest, issued_us FROM function_versions WHERE name = ?"
            " ORDER BY version",
            (name,),
        )
        return [(r[0], bytes(r[1]), r[2]) for r in rows]

    def remove_function(self, name: str, version: int, issued_us: int) -> None:
        """Delete every key and record of `name`; keep its last version and the removal's time."""
        with self._tx() as db:
            db.execute("DELETE FROM functions WHERE name = ?", (name,))
            db.execute("DELETE FROM function_versions WHERE name = ?", (name,))
            db.execute(
                "INSERT OR REPLACE INTO removed_functions VALUES (?, ?, ?)",
                (name, version, issued_us),
            )

    def removed(self, name: str) -> tuple[int, int] | None:
        """(last version, removal issued_us) if `name` was removed, else None."""
        r = self._db.execute(
            "SELECT version, issued_us FROM removed_functions WHERE name = ?", (name,)
        ).fetchone()
        return None if r is None else (r[0], r[1])

    def close(self) -> None:
        self._db.close()

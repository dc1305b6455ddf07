"""The bundle registry: untrusted storage of sealed bundles and function records.

Nothing here is trusted: enclaves open every bundle with the code key in
their grant and check it against the KMS-signed record and the tenant's
signature, and clients pin records by the KMS key. The code is ciphertext
here (`SealedBundle`). The registry only has to remember; SQLite on disk
makes it survive restarts. It refuses to go back: a version at or below the
one it holds (`StaleDeploy`), so a replayed old deploy cannot make cold
starts load an old version.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from veil.registration import split_pinned

SCHEMA = """
CREATE TABLE IF NOT EXISTS bundles (digest BLOB PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS functions (
    name TEXT PRIMARY KEY,
    digest BLOB NOT NULL REFERENCES bundles(digest),
    record BLOB NOT NULL,
    version INTEGER NOT NULL
);
"""
HISTORY_SCHEMA = """
CREATE TABLE IF NOT EXISTS deploy_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    digest BLOB NOT NULL
);
"""
"""The bundles each function had, newest last: `prune`'s own record (`put` does not write it)."""
_RECORD_CURRENT = """
INSERT INTO deploy_history (name, digest)
SELECT f.name, f.digest FROM functions f
WHERE f.digest IS NOT (
    SELECT h.digest FROM deploy_history h WHERE h.name = f.name ORDER BY h.seq DESC LIMIT 1
)"""
_TRIM_HISTORY = """
DELETE FROM deploy_history WHERE seq NOT IN (
    SELECT seq FROM (
        SELECT seq, ROW_NUMBER() OVER (PARTITION BY name ORDER BY seq DESC) AS n
        FROM deploy_history
    ) WHERE n <= ?
)"""
_DELETE_UNNEEDED = """
DELETE FROM bundles
WHERE digest NOT IN (SELECT digest FROM functions)
AND digest NOT IN (SELECT digest FROM deploy_history)"""
VERSIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS version_bundles (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest BLOB NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (name, version)
);
"""
"""Each retained version's sealed bundle, for `NAME@N`: by version, not digest, since a
rollback seals the same digest again under another code key."""
DEFAULT_RETAIN = 5
"""Versions kept per function, as the KMS keeps their keys (`veil.kms.broker.DEFAULT_RETAIN`)."""
PRUNE_KEEP = 2
"""Bundles kept per function by `prune`: the current one and the one before it."""


class StaleDeploy(Exception):
    """A deploy whose version is not newer than the registry's: a replay or a lost race (409)."""

    status = 409


@dataclass(frozen=True)
class Entry:
    name: str
    digest: bytes
    record: bytes
    version: int


class Registry:
    def __init__(self, path: Path, retain: int = DEFAULT_RETAIN) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.retain = retain
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA + HISTORY_SCHEMA + VERSIONS_SCHEMA)
        self._lock = threading.Lock()

    def put(self, entry: Entry, sealed_bundle: bytes) -> None:
        """Store `entry` as the function's current version; `StaleDeploy` if it is not newer.

        A redeploy of the same digest replaces its bundle: each deploy seals the code
        under a fresh code key, and the KMS releases only the newest."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                current = self._db.execute(
                    "SELECT version FROM functions WHERE name = ?", (entry.name,)
                ).fetchone()
                if current is not None and entry.version <= current[0]:
                    raise StaleDeploy(f"version {entry.version} is not newer than {current[0]}")
                self._db.execute(
                    "INSERT OR REPLACE INTO bundles VALUES (?, ?)", (entry.digest, sealed_bundle)
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO functions VALUES (?, ?, ?, ?)",
                    (entry.name, entry.digest, entry.record, entry.version),
                )
                self._keep_version(entry, sealed_bundle)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def prune(self, keep: int = PRUNE_KEEP) -> int:
        """Delete the bundles no function needs any more; return how many went.

        Called after each `put`. A function needs its current bundle and the
        `keep - 1` it had before (a warm enclave may still be loading one; a
        rollback wants one), as recorded in `deploy_history`, which this
        keeps itself so `put` stays as it is. SQLite reuses the freed pages,
        so the file stops growing at the bundles kept.
        """
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(_RECORD_CURRENT)
                self._db.execute(_TRIM_HISTORY, (keep,))
                gone = self._db.execute(_DELETE_UNNEEDED).rowcount
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return gone

    def _keep_version(self, entry: Entry, sealed_bundle: bytes) -> None:
        """Keep the bundle as version `entry.version`; drop versions `retain` or more older."""
        self._db.execute(
            "INSERT OR REPLACE INTO version_bundles VALUES (?, ?, ?, ?)",
            (entry.name, entry.version, entry.digest, sealed_bundle),
        )
        self._db.execute(
            "DELETE FROM version_bundles WHERE name = ? AND version <= ?",
            (entry.name, entry.version - self.retain),
        )

    def remove(self, name: str) -> bool:
        """Forget `name`: its entry, its versions' bundles, its history; whether it was there."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                gone = self._db.execute("DELETE FROM functions WHERE name = ?", (name,)).rowcount
                self._db.execute("DELETE FROM version_bundles WHERE name = ?", (name,))
                self._db.execute("DELETE FROM deploy_history WHERE name = ?", (name,))
                self._db.execute(_DELETE_UNNEEDED)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return gone > 0

    def function_bundle(self, name: str, digest: bytes) -> bytes | None:
        """The sealed bundle to load for `name` (`base@N`: that retained version's)."""
        base, version = split_pinned(name)
        if version is None:
            return self.bundle(digest)
        row = self._db.execute(
            "SELECT data FROM version_bundles WHERE name = ? AND version = ? AND digest = ?",
            (base, version, digest),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def get(self, name: str) -> Entry | None:
        """The current entry of `name`; for `base@N`, retained version N (with no record)."""
        base, version = split_pinned(name)
        if version is not None:
            row = self._db.execute(
                "SELECT digest FROM version_bundles WHERE name = ? AND version = ?",
                (base, version),
            ).fetchone()
            return None if row is None else Entry(name, bytes(row[0]), b"", version)
        row = self._db.execute(
            "SELECT name, digest, record, version FROM functions WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else Entry(row[0], bytes(row[1]), bytes(row[2]), row[3])

    def bundle(self, digest: bytes) -> bytes | None:
        row = self._db.execute("SELECT data FROM bundles WHERE digest = ?", (digest,)).fetchone()
        return None if row is None else bytes(row[0])

    def entries(self) -> list[Entry]:
        rows = self._db.execute("SELECT name, digest, record, version FROM functions ORDER BY name")
        return [Entry(r[0], bytes(r[1]), bytes(r[2]), r[3]) for r in rows]

    def close(self) -> None:
        self._db.close()

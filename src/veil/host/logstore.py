"""Function logs as the host keeps them: sealed entries in SQLite, bounded, across restarts.

Each entry is what one invocation printed, HPKE-sealed inside the enclave to
the tenant's log key (`veil.trusted.crypto.recipes.seal_log`), with the
plaintext metadata its seal is bound to (function, version, request id,
served time, enclave key id). The host cannot read an entry; it sees how
many there are, their sizes and times, and it may drop, delay, reorder,
duplicate or replay them — `veil.client.logs` is where that is caught.

The store is bounded twice: at most `keep_per_function` entries per function
(oldest go first) and none older than `max_age_s`; both are checked on every
append, so the file never grows past them.

    <data-dir>/logs.sqlite3
"""

from __future__ import annotations

import base64
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

KEEP_PER_FUNCTION: Final = 1000
MAX_AGE_S: Final = 7 * 24 * 3600.0
PAGE: Final = 500
"""Entries per answer at most; a reader asks again from the last sequence number."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    function TEXT NOT NULL,
    version INTEGER NOT NULL,
    request_id BLOB NOT NULL,
    served_ms INTEGER NOT NULL,
    enclave BLOB NOT NULL,
    sealed BLOB NOT NULL,
    stored REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_by_function ON logs (function, seq);
"""


@dataclass(frozen=True)
class LogEntry:
    """One sealed entry and the metadata it is bound to; `seq` is the store's, not bound."""

    function: str
    version: int
    request_id: bytes
    served_ms: int
    enclave: bytes
    sealed: bytes
    seq: int = 0
    stored: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "function": self.function,
            "version": self.version,
            "request_id": self.request_id.hex(),
            "served_ms": self.served_ms,
            "enclave": self.enclave.hex(),
            "sealed": base64.b64encode(self.sealed).decode(),
            "stored": self.stored,
        }


class LogStore:
    """Owns the host's copy of every function's sealed log entries; reads none of them."""

    def __init__(
        self,
        path: Path | str = ":memory:",
        *,
        keep_per_function: int = KEEP_PER_FUNCTION,
        max_age_s: float = MAX_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keep_per_function, self.max_age_s = keep_per_function, max_age_s
        self._clock = clock
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def append(self, entry: LogEntry) -> int:
        """Store `entry`, drop what is over the bounds; its sequence number."""
        now = self._clock()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO logs (function, version, request_id, served_ms, enclave, sealed,"
                " stored) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*_columns(entry), now),
            )
            self._db.execute("DELETE FROM logs WHERE stored < ?", (now - self.max_age_s,))
            self._db.execute(
                "DELETE FROM logs WHERE function = ? AND seq <= ("
                " SELECT seq FROM logs WHERE function = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (entry.function, entry.function, self.keep_per_function),
            )
        return int(cur.lastrowid or 0)

    def after(self, function: str, seq: int = 0, limit: int = PAGE) -> list[LogEntry]:
        """`function`'s entries after sequence number `seq`, oldest first, at most `limit`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT function, version, request_id, served_ms, enclave, sealed, seq, stored"
                " FROM logs WHERE function = ? AND seq > ? ORDER BY seq LIMIT ?",
                (function, seq, min(limit, PAGE)),
            ).fetchall()
        return [
            LogEntry(r[0], r[1], bytes(r[2]), r[3], bytes(r[4]), bytes(r[5]), r[6], r[7])
            for r in rows
        ]

    def close(self) -> None:
        self._db.close()


def _columns(e: LogEntry) -> tuple[str, int, bytes, int, bytes, bytes]:
    return e.function, e.version, e.request_id, e.served_ms, e.enclave, e.sealed

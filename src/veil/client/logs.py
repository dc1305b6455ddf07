"""Function logs on the tenant's machine: the log key, and opening what the host kept.

What a function prints is sealed inside its enclave to the tenant's log key
(HPKE, `recipes.seal_log`), bound to the function, version, request id,
served time and enclave key id. The host stores and serves the entries; it
may drop, delay, reorder, duplicate and replay them, or splice one function's
entries into another's. So a `LogReader` opens each entry against the
metadata it came with, refuses one that does not open or is bound to
another function, drops a request id it has already shown, and orders by
the enclave's served time. A dropped entry it cannot see: nothing tells it
how many there should be.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from veil.trusted.crypto import hazmat, recipes
from veil.trusted.errors import DecryptionFailed, MalformedMessage
from veil.trusted.wire.envelope import log_info

LOG_KEY_FILE: Final = "tenant-logs.key"
"""Beside the tenant signing key: the private half of the tenant's log key (mode 0600)."""


def load_log_key(path: Path) -> hazmat.HpkePrivateKey:
    return hazmat.HpkePrivateKey(recipes.LOG_SUITE, path.read_bytes())


def create_log_key(path: Path) -> hazmat.HpkePrivateKey:
    """A new log key pair, its private half written to `path` with mode 0600."""
    key = hazmat.HpkePrivateKey.generate(recipes.LOG_SUITE)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.to_bytes())
    return key


@dataclass(frozen=True)
class LogLine:
    """What one invocation printed, opened, with the metadata its seal was bound to."""

    function: str
    version: int
    request_id: bytes
    served_ms: int
    enclave: bytes
    text: bytes
    seq: int

    def to_json(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "version": self.version,
            "request_id": self.request_id.hex(),
            "served_ms": self.served_ms,
            "enclave": self.enclave.hex(),
            "text": self.text.decode(errors="replace"),
        }


class LogEntryRefused(MalformedMessage):
    """An entry the host served that does not open with the tenant's log key for the function
    asked for (tampered, bound to other metadata, or another function's): skipped, not shown.

    Unlike a duplicate (a request id already shown), which is dropped silently."""


def parse_entry(obj: Any) -> tuple[int, str, int, bytes, int, bytes, bytes]:
    """(seq, function, version, request id, served ms, enclave, sealed) of one JSON entry."""
    try:
        return (
            int(obj["seq"]),
            str(obj["function"]),
            int(obj["version"]),
            bytes.fromhex(obj["request_id"]),
            int(obj["served_ms"]),
            bytes.fromhex(obj["enclave"]),
            base64.b64decode(obj["sealed"], validate=True),
        )
    except (TypeError, KeyError, ValueError, binascii.Error):
        raise LogEntryRefused("log entry does not parse") from None


class LogReader:
    """Opens one function's entries for the tenant, each request id once."""

    def __init__(self, key: hazmat.HpkePrivateKey, function: str) -> None:
        self._key, self.function = key, function
        self._seen: set[bytes] = set()
        self.last_seq = 0
        """The highest sequence number read so far: where to ask the host from next."""

    def open(self, obj: Any) -> LogLine:
        """Open one entry; `LogEntryRefused` if it does not open or is another function's."""
        seq, function, version, rid, served, enclave, sealed = parse_entry(obj)
        self.last_seq = max(self.last_seq, seq)
        if function != self.function:
            raise LogEntryRefused(f"entry #{seq} is bound to another function ({function!r})")
        try:
            info = log_info(function, version, rid, served, enclave)
            text = recipes.open_log(self._key, sealed, info)
        except (DecryptionFailed, MalformedMessage):
            raise LogEntryRefused(f"entry #{seq} does not open with the tenant's log key") from None
        return LogLine(function, version, rid, served, enclave, text, seq)

    def read(self, entries: Iterable[Any]) -> tuple[list[LogLine], list[LogEntryRefused]]:
        """The entries that open and are new, by served time; and the refusals, in order."""
        lines: list[LogLine] = []
        refused: list[LogEntryRefused] = []
        for obj in entries:
            try:
                line = self.open(obj)
            except LogEntryRefused as exc:
                refused.append(exc)
                continue
            if line.request_id not in self._seen:
                self._seen.add(line.request_id)
                lines.append(line)
        lines.sort(key=lambda line: (line.served_ms, line.request_id))
        return lines, refused

"""Capture a Wasm instance's mutable state once, restore it in place after each request.

Chosen over re-instantiation by measurement (docs/design/0001-rewind.md): one
memmove and a few global writes cost microseconds, a fresh instance about two
hundred. A request that grew a memory or table (which cannot shrink) gets a fresh
instance, init and capture instead; the hash covers only bytes and values, so
it stays the same for a deterministic init.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, TypeVar

import wasmtime

from veil.trusted.crypto.digest import sha256
from veil.trusted.sandbox.fastpath import GlobalWriter, MemorySize
from veil.trusted.sandbox.wasm_binary import StateLayout, state_export_name

PAGE = 65536
_E = TypeVar("_E")


@dataclass(frozen=True)
class Snapshot:
    memories: tuple[bytes, ...]
    globals: tuple[Any, ...]
    tables: tuple[tuple[Any, ...], ...]

    def digest(self) -> bytes:
        """A hash of the snapshot's bytes; globals and tables by their values' repr."""
        parts = [m for m in self.memories]
        parts.append(repr([_plain(v) for v in self.globals]).encode())
        parts.append(repr([[_plain(v) for v in t] for t in self.tables]).encode())
        return sha256(b"veil/snapshot/v1", *(sha256(p) for p in parts))


def _plain(value: Any) -> Any:
    """Funcrefs are objects with fresh identities per instance: hash only their presence."""
    return value if isinstance(value, int | float) or value is None else type(value).__name__


class InstanceState:
    """The host's handles on one instance's memories, mutable globals and tables."""

    def __init__(
        self,
        store: wasmtime.Store,
        instance: wasmtime.Instance,
        layout: StateLayout,
        exports: Any = None,
    ):
        """`exports` may be any name-indexed lookup; default: `instance.exports(store)`."""
        if exports is None:
            exports = instance.exports(store)
        self._store = store
        self._memories = [_get(exports, "memory", i, wasmtime.Memory) for i in layout.memories]
        self._globals = [_get(exports, "global", i, wasmtime.Global) for i in layout.globals]
        self._tables = [_get(exports, "table", i, wasmtime.Table) for i in layout.tables]
        self._captured: Snapshot | None = None
        self._writers: list[GlobalWriter] = []
        self._sizes: list[tuple[MemorySize, int]] = []
        self._copies: list[tuple[int, bytes, int]] = []

    def capture(self) -> Snapshot:
        """Record the current state; `rewind` then writes back exactly this snapshot."""
        s = self._store
        snapshot = Snapshot(
            memories=tuple(ctypes.string_at(_base(m, s), m.data_len(s)) for m in self._memories),
            globals=tuple(g.value(s) for g in self._globals),
            tables=tuple(tuple(_ref(t.get(s, i)) for i in range(t.size(s))) for t in self._tables),
        )
        self._remember(snapshot)
        return snapshot

    def _remember(self, snapshot: Snapshot) -> None:
        """Prepare the rewind: global writers, memory bases (valid: `memory_may_move = False`)."""
        s = self._store
        self._captured = snapshot
        self._writers = [
            GlobalWriter(s, g, v) for g, v in zip(self._globals, snapshot.globals, strict=True)
        ]
        self._sizes = [
            (MemorySize(s, m), len(data))
            for m, data in zip(self._memories, snapshot.memories, strict=True)
        ]
        self._copies = [
            (_base(m, s), data, len(data))
            for m, data in zip(self._memories, snapshot.memories, strict=True)
        ]

    def install(self, snapshot: Snapshot) -> None:
        """Write a snapshot of another instance of this module into this fresh one.

        The state (and its hash) is then the one captured after init, not a
        re-run of init. Tables stay as instantiated (callers exclude them).
        """
        if self._tables:
            raise ValueError("install does not carry tables between instances")
        s = self._store
        for mem, data in zip(self._memories, snapshot.memories, strict=True):
            missing = (len(data) - mem.data_len(s)) // PAGE
            if missing < 0:
                raise ValueError("install needs an instance no larger than the snapshot")
            if missing:
                mem.grow(s, missing)
            ctypes.memmove(_base(mem, s), data, len(data))
        self._remember(snapshot)
        for write in self._writers:
            write()

    def rewind(self, snapshot: Snapshot) -> bool:
        """Write the captured snapshot back in place; False if a memory or table grew.

        A grown one cannot shrink: nothing is written, the caller starts a fresh
        instance. This runs after every request, so `_remember` prepares it.
        """
        if snapshot is not self._captured:
            raise ValueError("rewind takes the snapshot this instance captured")
        for size_of, size in self._sizes:
            if size_of() != size:
                return False
        s = self._store
        tables = self._tables
        if tables and any(
            t.size(s) != len(e) for t, e in zip(tables, snapshot.tables, strict=True)
        ):
            return False
        for base, data, size in self._copies:
            ctypes.memmove(base, data, size)
        for write in self._writers:
            write()
        for table, entries in zip(tables, snapshot.tables, strict=True):
            for i, entry in enumerate(entries):
                table.set(s, i, entry)
        return True


def _get(exports: Any, kind: str, index: int, cls: type[_E]) -> _E:
    item = exports[state_export_name(kind, index)]
    if not isinstance(item, cls):
        raise TypeError(f"state export {kind} {index} is a {type(item).__name__}")
    return item


def _ref(entry: Any) -> Any:
    # wasmtime-py reads a null ref as a `Val` it cannot write back; as None it can.
    return None if isinstance(entry, wasmtime.Val) and entry._val is None else entry


def _base(memory: wasmtime.Memory, store: wasmtime.Store) -> int:
    return ctypes.addressof(memory.data_ptr(store).contents)

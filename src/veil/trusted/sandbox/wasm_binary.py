"""Just enough of the Wasm binary format to make a module's state snapshottable.

In-place rewind needs every piece of mutable instance state reachable from
the host: memories, mutable globals, tables. Modules rarely export all of
them (`__stack_pointer` never is), so before compiling, the enclave appends
exports named `__veil_state_<kind>_<index>` for each defined one. Nothing
else in the module changes; the rewritten module is what runs and what the
compile cache keys on (by bundle digest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from veil.trusted.sandbox.errors import ABIViolation

MAGIC: Final = b"\x00asm\x01\x00\x00\x00"
STATE_PREFIX: Final = "__veil_state_"

_EXPORT_SECTION: Final = 7
# Canonical order of the non-custom sections (ids 1-13): id -> rank.
_ORDER: Final = {sid: rank for rank, sid in enumerate((1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11))}
_KIND_TABLE, _KIND_MEMORY, _KIND_GLOBAL = 1, 2, 3
# WASI calls that change no WASI state in Veil's empty world (no files, no sockets).
_STATELESS_WASI: Final = frozenset(
    b"args_get args_sizes_get environ_get environ_sizes_get clock_res_get clock_time_get"
    b" fd_write fd_fdstat_get fd_prestat_get fd_prestat_dir_name random_get proc_exit"
    b" sched_yield poll_oneoff".split()
)


class UnsupportedModule(ABIViolation):
    """A module that is not valid Wasm, or uses features the snapshot cannot cover."""


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise UnsupportedModule("module is truncated")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def skip(self, n: int) -> None:
        if self.pos + n > len(self.data):
            raise UnsupportedModule("module is truncated")
        self.pos += n

    def uleb(self) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise UnsupportedModule("LEB128 too long")

    def sleb(self) -> None:
        while self.byte() & 0x80:
            pass

    def name(self) -> bytes:
        size = self.uleb()
        self.skip(size)
        return bytes(self.data[self.pos - size : self.pos])

    def valtype(self) -> int:
        t = self.byte()
        if t in (0x63, 0x64):  # (ref null? ht): a heap type follows
            self.sleb()
        return t

    def limits(self) -> None:
        flags = self.byte()
        self.uleb()
        if flags & 0x01:
            self.uleb()
        if flags & 0x08:  # custom page size
            self.uleb()

    def const_expr(self) -> None:
        while True:
            op = self.byte()
            if op == 0x0B:
                return
            if op in (0x41, 0x42):
                self.sleb()
            elif op == 0x43:
                self.skip(4)
            elif op == 0x44:
                self.skip(8)
            elif op in (0x23, 0xD2):
                self.uleb()
            elif op == 0xD0:
                self.valtype()
            elif op in (0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E):
                pass
            elif op == 0xFD and self.uleb() == 12:
                self.skip(16)
            else:
                raise UnsupportedModule(f"unsupported constant expression opcode 0x{op:02x}")


def _uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


@dataclass(frozen=True)
class StateLayout:
    """Indices (in each index space) of the module's own mutable state."""

    memories: tuple[int, ...]
    globals: tuple[int, ...]
    tables: tuple[int, ...]
    # Passive data or element segments: `data.drop`/`elem.drop` state no API restores.
    passive_segments: bool = False
    # Imports a WASI call that can change WASI state (e.g. `fd_close` of stdout).
    wasi_state: bool = False


def _sections(wasm: bytes) -> list[tuple[int, int, int, int]]:
    """(id, header start, payload start, payload end) of every section."""
    if wasm[:8] != MAGIC:
        raise UnsupportedModule("not a Wasm core module (bad magic or version)")
    r, out = _Reader(wasm, 8), []
    while r.pos < len(wasm):
        header = r.pos
        sid = r.byte()
        size = r.uleb()
        start = r.pos
        r.skip(size)
        out.append((sid, header, start, r.pos))
    return out


def state_layout(wasm: bytes) -> StateLayout:
    """Imported memories and tables are refused: their state would live outside the instance."""
    memories: tuple[int, ...] = ()
    globals_: list[int] = []
    tables: list[int] = []
    imported_globals, passive, wasi_state = 0, False, False
    for sid, _header, start, _end in _sections(wasm):
        r = _Reader(wasm, start)
        if sid == 2:
            for _ in range(r.uleb()):
                _module, field = r.name(), r.name()
                kind = r.byte()
                wasi_state |= kind == 0 and field not in _STATELESS_WASI
                if kind in (_KIND_TABLE, _KIND_MEMORY):
                    raise UnsupportedModule("imported memories or tables are not allowed")
                if kind == _KIND_GLOBAL:
                    r.valtype()
                    r.byte()
                    imported_globals += 1
                elif kind in (0, 4):
                    r.skip(1 if kind == 4 else 0)  # a tag's attribute byte; then a type index
                    r.uleb()
                else:
                    raise UnsupportedModule(f"unknown import kind {kind}")
        elif sid == 4:
            for i in range(r.uleb()):
                initialised = wasm[r.pos] == 0x40
                r.skip(2 if initialised else 0)
                r.valtype()
                r.limits()
                if initialised:
                    r.const_expr()
                tables.append(i)
        elif sid == 5:
            memories = tuple(range(r.uleb()))
        elif sid == 6:
            for i in range(r.uleb()):
                vt = r.valtype()
                mutable = r.byte()
                r.const_expr()
                if mutable:
                    if vt == 0x7B:
                        raise UnsupportedModule("mutable v128 globals cannot be snapshotted")
                    globals_.append(imported_globals + i)
        elif sid in (9, 11):
            passive |= _has_passive_segment(r, elements=sid == 9)
    return StateLayout(memories, tuple(globals_), tuple(tables), passive, wasi_state)


def _has_passive_segment(r: _Reader, elements: bool) -> bool:
    # Element flags: bit 0 passive/declarative, bit 1 table index/declarative, bit 2 exprs.
    for _ in range(r.uleb()):
        flags = r.uleb()
        if flags & 3 == 1 or flags > (7 if elements else 2):
            return True
        if flags & 3 == 2:
            r.uleb()
        if not flags & 1:
            r.const_expr()
        if not elements:
            r.name()
            continue
        if flags & 3:
            r.valtype()
        for _ in range(r.uleb()):
            r.const_expr() if flags & 4 else r.uleb()
    return False


def state_export_name(kind: str, index: int) -> str:
    return f"{STATE_PREFIX}{kind}_{index}"


def export_state(wasm: bytes) -> tuple[bytes, StateLayout]:
    """Return `wasm` with an export for every defined memory, mutable global and table."""
    layout = state_layout(wasm)
    entries = [
        (state_export_name(kind, idx), code, idx)
        for kind, code, indices in (
            ("memory", _KIND_MEMORY, layout.memories),
            ("global", _KIND_GLOBAL, layout.globals),
            ("table", _KIND_TABLE, layout.tables),
        )
        for idx in indices
    ]
    sections = _sections(wasm)
    existing = next((s for s in sections if s[0] == _EXPORT_SECTION), None)
    count, body = 0, b""
    if existing is not None:
        r = _Reader(wasm, existing[2])
        count = r.uleb()
        body = wasm[r.pos : existing[3]]
    for name, code, idx in entries:
        raw = name.encode()
        body += _uleb(len(raw)) + raw + bytes([code]) + _uleb(idx)
    payload = _uleb(count + len(entries)) + body
    section = bytes([_EXPORT_SECTION]) + _uleb(len(payload)) + payload
    out, placed = bytearray(MAGIC), False
    for sid, header_start, _start, end in sections:
        late = sid != 0 and _ORDER.get(sid, 0) > _ORDER[_EXPORT_SECTION]
        if not placed and (sid == _EXPORT_SECTION or late):
            out += section
            placed = True
        if sid != _EXPORT_SECTION:
            out += wasm[header_start:end]
    if not placed:
        out += section
    return bytes(out), layout

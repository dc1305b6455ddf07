"""What the traced build sees instead of the build host's clocks, entropy and file metadata.

componentize-py runs the tenant's module inside CPython and snapshots the
interpreter's memory into the component. Whatever the host feeds that run
ends up in the snapshot: the hash secret and `random` state from entropy,
the clock, and file times and inode numbers from `stat` (kept by the import
system, and left behind in freed memory and uninitialised padding). Each
rewrite below replaces one of those with a value that depends only on the
build's inputs, so the same source gives the same component.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
from dataclasses import dataclass
from typing import Final

from veil.client.build.hermetic.ptrace import Regs
from veil.client.build.hermetic.tracee import AT_FDCWD, Tracee

SYS_STAT: Final = 4
SYS_FSTAT: Final = 5
SYS_LSTAT: Final = 6
SYS_GETTIMEOFDAY: Final = 96
SYS_TIME: Final = 201
SYS_GETDENTS64: Final = 217
SYS_CLOCK_GETTIME: Final = 228
SYS_NEWFSTATAT: Final = 262
SYS_GETRANDOM: Final = 318
SYS_STATX: Final = 332

FILE_SYSCALLS: Final = (SYS_STAT, SYS_FSTAT, SYS_LSTAT, SYS_NEWFSTATAT, SYS_STATX, SYS_GETDENTS64)
CLOCK_SYSCALLS: Final = (SYS_CLOCK_GETTIME, SYS_GETTIMEOFDAY, SYS_TIME)

_REALTIME_CLOCKS: Final = frozenset({0, 5, 8, 11})
"""CLOCK_REALTIME, _COARSE, _ALARM and CLOCK_TAI: clocks that tell the date."""
MONOTONIC_START: Final = 1_000_000
"""Seconds on every other clock: far enough from zero that subtracting a timeout cannot wrap."""
_STATX_SIZE: Final = 144
_STATX_TIMES: Final = (64, 80, 96, 112)
"""Offsets of stx_atime, stx_btime, stx_ctime and stx_mtime in `struct statx`."""
_STAT_SIZE: Final = 144
_STAT_TIMES: Final = (72, 88, 104)
"""Offsets of st_atim, st_mtim and st_ctim in x86-64 `struct stat`."""
_DIR_SIZE: Final = 4096
"""Directory sizes differ by file system (tmpfs counts entries, ext4 blocks); one value for all."""
_DEVICE: Final = 1


@dataclass
class Pins:
    """The pinned world of one build: entropy from `seed`, `epoch` on every clock and file.

    Inode numbers are derived from the file's path, taken relative to `root`
    (the build's staging directory, which also holds componentize-py's
    temporary directories), so they are distinct, and the same wherever and
    on whatever file system the build runs.
    """

    seed: bytes
    epoch: int
    root: str

    def rewrite(self, tracee: Tracee, nr: int, regs: Regs) -> Regs | None:
        """Fix up the result of syscall `nr`, stopped at its exit in `tracee`.

        Returns registers to write back when the return value itself changes.
        """
        result = _signed(regs.rax)
        if result < 0:
            return None
        if nr == SYS_STATX:
            self._statx(tracee, regs.r8, tracee.path_at(_int32(regs.rdi), regs.rsi))
        elif nr == SYS_NEWFSTATAT:
            self._stat(tracee, regs.rdx, tracee.path_at(_int32(regs.rdi), regs.rsi))
        elif nr in (SYS_STAT, SYS_LSTAT):
            self._stat(tracee, regs.rsi, tracee.path_at(AT_FDCWD, regs.rdi))
        elif nr == SYS_FSTAT:
            self._stat(tracee, regs.rsi, tracee.fd_path(_int32(regs.rdi)))
        elif nr == SYS_GETDENTS64:
            self._dirents(tracee, regs.rsi, result, tracee.fd_path(_int32(regs.rdi)))
        elif nr == SYS_GETRANDOM:
            tracee.write(regs.rdi, self.entropy(result))
        elif nr == SYS_CLOCK_GETTIME:
            seconds = self.epoch if regs.rdi in _REALTIME_CLOCKS else MONOTONIC_START
            tracee.write(regs.rsi, struct.pack("<qq", seconds, 0))
        elif nr == SYS_GETTIMEOFDAY and regs.rdi:
            tracee.write(regs.rdi, struct.pack("<qq", self.epoch, 0))
        elif nr == SYS_TIME:
            if regs.rdi:
                tracee.write(regs.rdi, struct.pack("<q", self.epoch))
            regs.rax = self.epoch
            return regs
        return None

    def entropy(self, size: int) -> bytes:
        """The bytes every `getrandom` call gets: the same stream, from the start, every time.

        Every reader (the guest, the host's RNG seeding, hash-map keys) then sees
        the same bytes whatever order threads happen to ask in.
        """
        return hashlib.shake_256(b"veil hermetic build entropy\0" + self.seed).digest(size)

    def inode(self, path: str) -> int:
        """A nonzero 63-bit inode number for `path`, named relative to the build's root."""
        if path == self.root or path.startswith(self.root + "/"):
            path = "<build>" + path[len(self.root) :]
        digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).digest()
        return int.from_bytes(digest[:8], "little") >> 1 or 1

    def _statx(self, tracee: Tracee, addr: int, path: str) -> None:
        buf = bytearray(tracee.read(addr, _STATX_SIZE))
        (mode,) = struct.unpack_from("<H", buf, 28)
        (size,) = struct.unpack_from("<Q", buf, 40)
        struct.pack_into("<I", buf, 4, 4096)
        struct.pack_into("<Q", buf, 8, 0)
        struct.pack_into("<Q", buf, 48, (size + 511) // 512)
        struct.pack_into("<Q", buf, 56, 0)
        buf[128:136] = bytes(8)
        buf[144:] = bytes(len(buf) - 144)
        struct.pack_into("<Q", buf, 32, self.inode(path))
        struct.pack_into("<II", buf, 136, 0, _DEVICE)
        if stat.S_ISDIR(mode):
            struct.pack_into("<Q", buf, 40, _DIR_SIZE)
        for offset in _STATX_TIMES:
            struct.pack_into("<qII", buf, offset, self.epoch, 0, 0)
        tracee.write(addr, bytes(buf))

    def _stat(self, tracee: Tracee, addr: int, path: str) -> None:
        buf = bytearray(tracee.read(addr, _STAT_SIZE))
        (mode,) = struct.unpack_from("<I", buf, 24)
        (size,) = struct.unpack_from("<q", buf, 48)
        struct.pack_into("<qq", buf, 56, 4096, (size + 511) // 512)
        struct.pack_into("<Q", buf, 40, 0)
        struct.pack_into("<QQ", buf, 0, _DEVICE, self.inode(path))
        if stat.S_ISDIR(mode):
            struct.pack_into("<q", buf, 48, _DIR_SIZE)
        for offset in _STAT_TIMES:
            struct.pack_into("<qq", buf, offset, self.epoch, 0)
        tracee.write(addr, bytes(buf))

    def _dirents(self, tracee: Tracee, addr: int, size: int, directory: str) -> None:
        """One `getdents64` batch, in name order and with path-derived inode numbers."""
        buf = tracee.read(addr, size)
        records = []
        offset = 0
        while offset < size:
            (reclen,) = struct.unpack_from("<H", buf, offset + 16)
            if reclen == 0:
                return
            record = bytearray(buf[offset : offset + reclen])
            name = bytes(record[19:]).split(b"\0", 1)[0]
            path = os.path.normpath(os.path.join(directory, os.fsdecode(name)))
            struct.pack_into("<Q", record, 0, self.inode(path))
            records.append((name, record))
            offset += reclen
        records.sort()
        for index, (_name, record) in enumerate(records):
            struct.pack_into("<q", record, 8, index + 1)
        tracee.write(addr, b"".join(bytes(record) for _name, record in records))


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value

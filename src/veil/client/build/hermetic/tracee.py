"""Reading and writing a stopped, traced process: its memory, its file descriptors, its cwd."""

from __future__ import annotations

import os
from typing import Final

AT_FDCWD: Final = -100
_MAX_PATH: Final = 4096


class Tracee:
    """The process being traced; every thread shares its memory and file table."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._mem = os.open(f"/proc/{pid}/mem", os.O_RDWR)

    def close(self) -> None:
        os.close(self._mem)

    def read(self, addr: int, size: int) -> bytes:
        return os.pread(self._mem, size, addr)

    def write(self, addr: int, data: bytes) -> None:
        os.pwrite(self._mem, data, addr)

    def read_cstring(self, addr: int) -> bytes:
        """The NUL-terminated string at `addr`, read a chunk at a time so as not to cross into
        an unmapped page more than needed."""
        out = b""
        while len(out) < _MAX_PATH:
            chunk = self.read(addr + len(out), 256 - (addr + len(out)) % 256)
            end = chunk.find(b"\0")
            if end >= 0:
                return out + chunk[:end]
            out += chunk
        return out

    def fd_path(self, fd: int) -> str:
        """What `fd` refers to (a path, or e.g. "pipe:[123]"); fd AT_FDCWD is the cwd."""
        link = "cwd" if fd == AT_FDCWD else f"fd/{fd}"
        try:
            return os.readlink(f"/proc/{self.pid}/{link}")
        except OSError:
            return f"<fd {fd}>"

    def path_at(self, dirfd: int, addr: int) -> str:
        """The path a `*at` syscall names: `addr`'s string, resolved against `dirfd`."""
        name = os.fsdecode(self.read_cstring(addr)) if addr else ""
        if name.startswith("/"):
            return os.path.normpath(name)
        base = self.fd_path(dirfd)
        return os.path.normpath(os.path.join(base, name)) if name else base

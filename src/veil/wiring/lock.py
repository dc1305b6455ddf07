"""One platform per data directory: a lock file held for as long as `veil up` runs.

Two platforms on one data directory would share one KMS database and one
registry without a word, and fight over them. `hold_data_dir` takes an
exclusive `flock` on `<data-dir>/veil-up.lock` and writes its pid there;
the kernel drops the lock when the process exits however it exits, so a
crashed `veil up` never leaves a stale lock behind (the file stays; only
the lock matters).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

LOCK_FILE: Final = "veil-up.lock"


class DataDirInUse(RuntimeError):
    """Another running platform holds this data directory's lock."""


@contextlib.contextmanager
def hold_data_dir(data_dir: Path) -> Iterator[None]:
    """Hold `data_dir`'s lock for the body; `DataDirInUse`, naming the holder, if it is taken."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # not inherited by children (O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise DataDirInUse(
                f"another `veil up` (pid {holder}) is already serving {data_dir}; "
                "stop it first, or give this one its own --data-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def running_pid(data_dir: Path) -> int | None:
    """The pid of the `veil up` holding `data_dir`'s lock, or None if none holds it.

    Probed with a shared lock taken and dropped at once: it fails only while
    a `veil up` holds the exclusive one, so a pid left in the file by a
    `veil up` that exited (or crashed) does not count.
    """
    path = data_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)

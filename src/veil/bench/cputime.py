"""Server CPU time of a process tree, read from /proc (Linux), for per-request CPU figures.

Throughput alone hides how a server spends the machine: on a shared 2-core
box the faster side may just be the greedier one. So the gateway bench
reads user+sys time of every server process (the roots and all their
descendants) before and after a measured run and divides by the requests
served. `/proc/PID/stat` is the kernel's own accounting, in clock ticks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, or None if the process is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name is in parentheses and may itself hold spaces or ')'
    return text[text.rindex(")") + 2 :].split()


def process_tree(roots: Iterable[int]) -> set[int]:
    """`roots` and every live descendant of them."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid for pid in roots if _stat_fields(pid) is not None]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """user+sys seconds each live process in `pids` has used so far."""
    used = {}
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            # after the name: state(0) ppid(1) ... utime(11) stime(12), see proc(5)
            used[pid] = (int(fields[11]) + int(fields[12])) / TICKS_PER_S
    return used


class TreeCpu:
    """CPU used by a process tree between `__init__` and `elapsed()`.

    Processes that start inside the window count from zero; ones that exit
    inside it lose what they used after the first reading (none do in the
    bench: the pools are warm and fixed before it measures).
    """

    def __init__(self, roots: Iterable[int]) -> None:
        self.roots = list(roots)
        self.before = cpu_seconds(process_tree(self.roots))

    def elapsed(self) -> float:
        after = cpu_seconds(process_tree(self.roots))
        return sum(t - self.before.get(pid, 0.0) for pid, t in after.items())

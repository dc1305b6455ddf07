"""Running `veil` in tests: in-process (`run`) or as a real process, and what it left running.

`run` is for what a command prints and returns; `veil_process` for what
only a process shows (signals, child processes, output into a pipe).
`descendants` reads /proc, so a test can check that nothing a command
started outlives it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from veil.cli.main import app


def run(runner: CliRunner, *args: str, code: int = 0) -> str:
    """`veil ARGS` in-process; what it printed (stdout and stderr) once it exited with `code`."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


def run_json(runner: CliRunner, *args: str) -> Any:
    """`veil ARGS --json` in-process: its stdout parsed (stderr has the progress lines)."""
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def veil_process(data_dir: Path, *args: str, **popen: object) -> subprocess.Popen[str]:
    """`veil ARGS` as its own process, in its own session (as a shell job would be)."""
    env = {**os.environ, "VEIL_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "veil.cli", *args],
        env=env,
        text=True,
        start_new_session=True,
        **popen,
    )


def descendants(pid: int) -> dict[int, str]:
    """Every live process below `pid`, with its command line (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # it exited while we looked
        if fields[0] != "Z":
            parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found[child] = cmdline(child)
                frontier.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int, command: str) -> bool:
    """Whether `pid` still runs `command` (a reused pid running something else is not it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z" and cmdline(pid) == command


def wait_until(check: Any, timeout: float, what: str) -> None:
    """Poll `check()` until true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)

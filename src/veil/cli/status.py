"""`veil status` and `veil down`: the `veil up` of this data directory, seen and stopped.

Which `veil up` serves a data directory is the one holding its lock file
(`veil.wiring.lock`), so both commands start there: a pid left in the file
by a `veil up` that has exited does not count. `status` then asks the
gateway and the KMS at the URLs in `client.json` whether they answer; it
reads only what any client may (counts, no tenant key is used).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Annotated, Any, Final

import httpx
import typer

from veil.cli.context import emit_json, human_errors, state
from veil.cli.output import error, out, plain, say
from veil.client.config import ClientConfig
from veil.wiring.lock import running_pid

PROBE_TIMEOUT_S: Final = 2.0
STOP_TIMEOUT_S: Final = 60.0
"""How long `veil down` waits for `veil up` to drain and stop its children."""


class UpDidNotStop(RuntimeError):
    """`veil up` still holds the data directory after SIGTERM and the wait."""


def _get(url: str) -> Any:
    """`url`'s JSON, or None if nothing answers it with a 2xx."""
    try:
        answer = httpx.get(url, timeout=PROBE_TIMEOUT_S)
    except httpx.HTTPError:
        return None
    return answer.json() if answer.is_success else None


def platform_status() -> dict[str, Any]:
    """What `veil status` reports: the lock's pid, each service's URL and whether it answers."""
    initialised = (state.data_dir / "client.json").exists()
    config = ClientConfig.load(state.data_dir) if initialised else None
    gateway, kms = (config.gateway, config.kms) if config else (None, None)
    gateway_up = gateway is not None and _get(f"{gateway}/healthz") is not None
    kms_up = kms is not None and _get(f"{kms}/healthz") is not None
    functions = _get(f"{gateway}/v1/functions") if gateway_up else None
    enclaves = _get(f"{gateway}/v1/enclaves") if gateway_up else None
    pid = running_pid(state.data_dir)
    return {
        "up": pid is not None and gateway_up and kms_up,
        "data_dir": str(state.data_dir),
        "pid": pid,
        "gateway": {"url": gateway, "reachable": gateway_up},
        "kms": {"url": kms, "reachable": kms_up},
        "functions": len(functions) if isinstance(functions, list) else None,
        "enclaves": len(enclaves) if isinstance(enclaves, list) else None,
    }


def status(
    json_: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Whether a `veil up` serves this data directory, and what answers; exit 0 up, 1 down."""
    report = platform_status()
    if json_:
        emit_json(report)
    else:
        _print(report)
    raise typer.Exit(0 if report["up"] else 1)


def _print(report: dict[str, Any]) -> None:
    pid = report["pid"]
    if pid is None:
        say("[red]down[/]: no `veil up` is serving {}", report["data_dir"])
    else:
        say("[green]up[/]: `veil up` pid {} serves {}", pid, report["data_dir"])
    for name, label in (("gateway", "gateway"), ("kms", "KMS and verifier")):
        service = report[name]
        answers = "answers" if service["reachable"] else "does not answer"
        plain(f"{label:17s} {service['url'] or '(no client.json: run `veil init`)'} {answers}", out)
    if report["functions"] is not None:
        plain(f"functions {report['functions']} · enclaves {report['enclaves']}", out)


def down() -> None:
    """Stop the `veil up` serving this data directory (SIGTERM, then wait until it exits)."""
    pid = running_pid(state.data_dir)
    if pid is None:
        error(f"no `veil up` is serving {state.data_dir}: nothing to stop")
        raise typer.Exit(1)
    plain(f"stopping `veil up` (pid {pid}) …")
    with human_errors():
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # it exited since we looked: its lock is gone with it
        _wait_stopped(pid)
    say("[green]stopped[/] `veil up` (pid {}): {} is free", pid, state.data_dir)


def _exited(pid: int) -> bool:
    """Whether `pid` is gone (a zombie its parent has not reaped yet counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    return False


def _wait_stopped(pid: int) -> None:
    """Until `veil up` released the data directory and its process is gone."""
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while running_pid(state.data_dir) == pid or not _exited(pid):
        if time.monotonic() > deadline:
            raise UpDidNotStop(
                f"`veil up` (pid {pid}) did not stop within {STOP_TIMEOUT_S:.0f} s; "
                f"`kill -9 {pid}` ends it (its children stop by themselves)"
            )
        time.sleep(0.1)

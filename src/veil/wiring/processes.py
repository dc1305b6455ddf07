"""Child processes of the wiring: a free port to give one, waiting until it is healthy, stopping it.

Every service Veil starts as a child (the KMS+verifier, the gateway, the
benchmark's baseline app) is stopped the same way, by `stop_process`: asked
to stop (SIGTERM, so uvicorn shuts down cleanly and the gateway stops its
enclave workers), and killed if it has not exited within the grace period.
A service child also stops by itself when its parent is gone (`start_service`).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Literal

import httpx

STOP_GRACE_S = 10.0
"""How long a child may take to exit after SIGTERM before it is killed."""


def free_port() -> int:
    """A loopback TCP port nothing listens on now (the child binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(
    url: str, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Return once `url`/healthz answers 2xx; fail early if `process` (the server) exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"service for {url} exited with status {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not become healthy in {timeout:.0f} s")


def stop_process(proc: subprocess.Popen[bytes] | None, grace_s: float = STOP_GRACE_S) -> None:
    """Terminate `proc`, wait up to `grace_s`, then kill it; always reaped on return.

    None and a process that already exited are fine (it is reaped), so callers
    can stop whatever they started without tracking what is still running.
    """
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()
    if proc.stdin is not None:
        proc.stdin.close()


def start_service(
    service: Literal["trust", "gateway"],
    data_dir: Path,
    host: str,
    port: int,
    options: Sequence[str] = (),
    stderr: int | IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `python -m veil.wiring.services <service>` on `host:port`, serving `data_dir`.

    `options` are further flags of that entry point (the gateway's `--trust-url`,
    `--stem-cells`, `--max-workers` ...). Stop it with `stop_process`.

    The child outlives no parent: it holds the read end of a pipe on its
    stdin and stops itself (`--exit-with-parent`) when that reaches end of
    file, which it does when this process exits, even by SIGKILL. It runs
    in its own session, so a Ctrl-C at the terminal reaches only this
    process, which then stops its children in order (no child dies
    mid-work printing its traceback).
    """
    argv = [service, "--data-dir", str(data_dir), "--host", host, "--port", str(port), *options]
    return subprocess.Popen(
        [sys.executable, "-m", "veil.wiring.services", *argv, "--exit-with-parent"],
        stdin=subprocess.PIPE,
        stderr=stderr,
        start_new_session=True,
    )

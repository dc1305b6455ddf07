"""Child processes: started as services, waited for, and stopped one way."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from veil.wiring.processes import free_port, start_service, stop_process, wait_healthy


def _python(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL)


def test_stop_process_terminates_a_running_child() -> None:
    proc = _python("import time; time.sleep(60)")
    stop_process(proc)
    assert proc.returncode == -signal.SIGTERM


def test_stop_process_kills_a_child_that_ignores_sigterm() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
            " print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    started = time.monotonic()
    stop_process(proc, grace_s=0.5)
    assert proc.returncode == -signal.SIGKILL
    assert time.monotonic() - started < 5
    proc.stdout.close()


def test_stop_process_reaps_a_child_that_already_exited() -> None:
    proc = _python("raise SystemExit(3)")
    while proc.poll() is None:
        time.sleep(0.01)
    stop_process(proc)
    assert proc.returncode == 3


def test_stop_process_accepts_nothing_to_stop() -> None:
    stop_process(None)


def test_free_ports_are_bindable_and_distinct() -> None:
    assert len({free_port() for _ in range(5)}) == 5


def test_wait_healthy_fails_at_once_when_the_service_exits(tmp_path: Path) -> None:
    proc = start_service("gateway", tmp_path, "127.0.0.1", free_port())  # no --trust-url
    started = time.monotonic()
    try:
        with pytest.raises(RuntimeError, match="exited with status 1"):
            wait_healthy("http://127.0.0.1:9", timeout=60, process=proc)
    finally:
        stop_process(proc)
    assert time.monotonic() - started < 30


def test_wait_healthy_times_out_when_nothing_answers() -> None:
    with pytest.raises(TimeoutError):
        wait_healthy(f"http://127.0.0.1:{free_port()}", timeout=0.3)

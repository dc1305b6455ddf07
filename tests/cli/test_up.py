"""`veil up` as a real process: where it listens, what it says into a pipe, how it stops.

Each platform here is a real `veil up` (its own KMS process, gateway and
enclave workers) with its output piped, as under a CI job or `veil up > log`.
The tests of the shared one run in file order: the last one stops it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.cli.runs import alive, descendants, run, veil_process, wait_until
from veil.cli.up import Endpoints, endpoints
from veil.client.config import ClientConfig
from veil.wiring.processes import free_port

START_S = 180.0
"""How long a `veil up` may take to be ready on a loaded machine."""


@dataclass
class Up:
    """A running `veil up`, its piped output collected line by line as it comes."""

    proc: subprocess.Popen[str]
    data_dir: Path
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    def collect(self) -> None:
        for stream, lines in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr)):
            reader = threading.Thread(target=lambda s=stream, o=lines: o.extend(s), daemon=True)
            reader.start()
            self.readers.append(reader)

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"veil up exited: {''.join(self.stderr)}")
        return any(line.startswith("ready") for line in self.stdout)

    def stop(self, how: signal.Signals) -> int:
        """Send `how` to its process group (unless it exited); its exit status, output read."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, how)
        status = self.proc.wait(60)
        for reader in self.readers:
            reader.join(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return status


def initialised(data_dir: Path) -> ClientConfig:
    """`veil init` with a gateway and KMS on free ports, as a user with busy default ports would."""
    gateway, kms = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    runner = CliRunner(env={"VEIL_DATA_DIR": str(data_dir)})
    run(runner, "init", "--tenant", "up", "--gateway", gateway, "--kms", kms)
    return ClientConfig.load(data_dir)


def start_up(data_dir: Path) -> Up:
    proc = veil_process(
        data_dir, "up", "--max-workers", "1", stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    up = Up(proc, data_dir)
    up.collect()
    wait_until(up.ready, START_S, "veil up's ready line")
    return up


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    data_dir = tmp_path_factory.mktemp("up") / "data"
    initialised(data_dir)
    running = start_up(data_dir)
    yield running
    running.stop(signal.SIGKILL)


def test_up_says_where_everything_is_and_when_it_is_ready_into_a_pipe(up: Up) -> None:
    config = ClientConfig.load(up.data_dir)
    said = "".join(up.stdout)
    assert f"gateway {config.gateway} · KMS and verifier {config.kms}" in said
    ready = next(line for line in up.stdout if line.startswith("ready"))
    assert config.gateway in ready and "attested enclave" in ready


def test_up_listens_where_client_json_points_every_other_command(up: Up) -> None:
    config = ClientConfig.load(up.data_dir)
    assert httpx.get(f"{config.gateway}/healthz").is_success
    runner = CliRunner(env={"VEIL_DATA_DIR": str(up.data_dir)})
    assert "no functions deployed yet" in run(runner, "ls")


def test_a_second_up_on_the_same_data_dir_is_refused_naming_the_first(up: Up) -> None:
    runner = CliRunner(env={"VEIL_DATA_DIR": str(up.data_dir)})
    out = run(runner, "up", code=1)
    assert f"another `veil up` (pid {up.proc.pid}) is already serving {up.data_dir}" in out


def test_sigterm_stops_up_and_every_process_it_started(up: Up) -> None:
    children = descendants(up.proc.pid)
    assert any("veil.wiring.services trust" in c for c in children.values()), children
    assert any("veil.trusted" in c for c in children.values()), children
    assert up.stop(signal.SIGTERM) == 0
    wait_until(
        lambda: not any(alive(pid, c) for pid, c in children.items()), 30, "children to exit"
    )
    assert "stopped" in "".join(up.stderr)
    assert "Traceback" not in "".join(up.stderr)


def test_ctrl_c_stops_up_without_a_traceback_from_it_or_its_children(tmp_path: Path) -> None:
    initialised(tmp_path / "data")
    up = start_up(tmp_path / "data")
    children = descendants(up.proc.pid)
    try:
        up.stop(signal.SIGINT)  # to the whole process group, as a terminal's Ctrl-C is
    finally:
        up.stop(signal.SIGKILL)
    wait_until(
        lambda: not any(alive(pid, c) for pid, c in children.items()), 30, "children to exit"
    )
    assert "Traceback" not in "".join(up.stderr), "".join(up.stderr)
    assert "stopped" in "".join(up.stderr)


def test_ports_come_from_client_json_and_an_option_moves_them() -> None:
    config = ClientConfig("t", gateway="http://127.0.0.1:8100", kms="http://127.0.0.1:8101")
    assert endpoints(config, None, None, None) == Endpoints("127.0.0.1", "127.0.0.1", 8100, 8101)
    moved = endpoints(config, None, 9100, None)
    assert (moved.gateway_url, moved.trust_url) == ("http://127.0.0.1:9100", config.kms)
    everywhere = endpoints(config, "0.0.0.0", None, None)
    assert everywhere.host == "0.0.0.0" and everywhere.gateway_url == config.gateway

"""`veil status` and `veil down` against a real `veil up` process, and with none running.

The tests of the shared platform run in file order: the last one stops it
with `veil down`.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli.runs import alive, descendants, run, wait_until
from tests.cli.test_up import Up, initialised, start_up
from veil.cli.main import app
from veil.client.config import ClientConfig
from veil.wiring.lock import LOCK_FILE


def cli(data_dir: Path) -> CliRunner:
    return CliRunner(env={"VEIL_DATA_DIR": str(data_dir)})


def status_json(data_dir: Path, code: int) -> dict[str, object]:
    result = cli(data_dir).invoke(app, ["status", "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    data_dir = tmp_path_factory.mktemp("status") / "data"
    initialised(data_dir)
    running = start_up(data_dir)
    yield running
    running.stop(signal.SIGKILL)


def test_status_without_a_running_up_says_down_and_exits_1(tmp_path: Path) -> None:
    config = initialised(tmp_path / "data")
    out = run(cli(tmp_path / "data"), "status", code=1)
    assert f"down: no `veil up` is serving {tmp_path / 'data'}" in out
    assert f"{config.gateway} does not answer" in out


def test_a_pid_left_in_the_lock_file_by_an_exited_up_is_not_taken_for_a_running_one(
    tmp_path: Path,
) -> None:
    initialised(tmp_path / "data")
    (tmp_path / "data" / LOCK_FILE).write_text("1\n")  # nobody holds the lock
    report = status_json(tmp_path / "data", code=1)
    assert report["pid"] is None and report["up"] is False


def test_status_of_a_running_up_names_its_pid_urls_and_counts(up: Up) -> None:
    config = ClientConfig.load(up.data_dir)
    report = status_json(up.data_dir, code=0)
    assert report["up"] is True and report["pid"] == up.proc.pid
    assert report["gateway"] == {"url": config.gateway, "reachable": True}
    assert report["kms"] == {"url": config.kms, "reachable": True}
    assert report["functions"] == 0
    assert isinstance(report["enclaves"], int) and report["enclaves"] >= 1


def test_status_in_words_of_a_running_up(up: Up) -> None:
    config = ClientConfig.load(up.data_dir)
    out = run(cli(up.data_dir), "status")
    assert f"up: `veil up` pid {up.proc.pid} serves {up.data_dir}" in out
    assert f"{config.gateway} answers" in out and f"{config.kms} answers" in out
    assert "functions 0 · enclaves" in out


def test_down_without_a_running_up_says_so_and_exits_1(tmp_path: Path) -> None:
    out = run(cli(tmp_path / "data"), "down", code=1)
    assert f"no `veil up` is serving {tmp_path / 'data'}: nothing to stop" in out


def test_down_stops_up_and_every_process_it_started(up: Up) -> None:
    children = descendants(up.proc.pid)
    assert children, "veil up runs a KMS process and enclave workers"
    out = run(cli(up.data_dir), "down")
    assert f"stopped `veil up` (pid {up.proc.pid})" in out
    assert up.proc.poll() == 0, "down returns once up has exited, with status 0"
    up.stop(signal.SIGTERM)  # nothing to signal: reads the rest of its output
    wait_until(
        lambda: not any(alive(pid, c) for pid, c in children.items()), 30, "children to exit"
    )
    assert "Traceback" not in "".join(up.stderr)
    assert status_json(up.data_dir, code=1)["up"] is False

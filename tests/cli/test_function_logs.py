"""`veil logs NAME [-f]`: what a function printed, opened on the tenant's machine.

One Python function for the module (Python builds take seconds). It prints
a line holding its input; its answer does not hold it, so a line that
`veil logs` shows came from the sealed log, kept by the host across a
restart of the gateway.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli.runs import run, veil_process, wait_until
from veil.cli.logs import tenant_log_key
from veil.cli.main import app
from veil.client.logs import LOG_KEY_FILE
from veil.wiring.embedded import EmbeddedPlatform

COLD_START_S = "300"
"""A first invocation compiles the function in the enclave: a Python one takes a while."""
PRINTING_APP = """from veil_function import Request, Response


def handle(request: Request) -> Response:
    print("seen", request.text())
    return Response.text("done")
"""


@pytest.fixture(scope="module")
def printer(veil: CliRunner, tmp_path_factory: pytest.TempPathFactory) -> str:
    project = tmp_path_factory.mktemp("pylogs") / "pylogs"
    run(veil, "new", "--lang", "python", "pylogs", "--dir", str(project))
    (project / "app.py").write_text(PRINTING_APP)
    run(veil, "deploy", str(project))
    out = run(veil, "invoke", "pylogs", "-d", "first-4e1a", "--timeout", COLD_START_S)
    assert "done" in out
    return "pylogs"


def test_veil_logs_shows_what_a_python_function_printed(veil: CliRunner, printer: str) -> None:
    out = run(veil, "logs", printer)
    line = next(line for line in out.splitlines() if "seen first-4e1a" in line)
    assert " v1 " in line


def test_veil_logs_json_is_one_object_a_line(veil: CliRunner, printer: str) -> None:
    result = veil.invoke(app, ["logs", printer, "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    first = next(obj for obj in lines if obj["text"] == "seen first-4e1a\n")
    assert (first["function"], first["version"]) == ("cli/pylogs", 1)
    assert len(first["request_id"]) == 32


def test_the_log_survives_a_restart_of_the_gateway(
    veil: CliRunner, printer: str, embedded: EmbeddedPlatform
) -> None:
    embedded.stop_gateway()
    embedded.start_gateway()
    assert "seen first-4e1a" in run(veil, "logs", printer)


def test_host_events_are_still_what_veil_logs_shows_without_a_name(
    veil: CliRunner, printer: str
) -> None:
    out = run(veil, "logs")
    assert "deployed" in out and "seen first-4e1a" not in out


@dataclass
class Following:
    proc: subprocess.Popen[str]
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def collect(self) -> None:
        for stream, lines in ((self.proc.stdout, self.stdout), (self.proc.stderr, self.stderr)):
            threading.Thread(target=lambda s=stream, o=lines: o.extend(s), daemon=True).start()

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.stdout)


@pytest.fixture
def following(embedded: EmbeddedPlatform, printer: str) -> Iterator[Following]:
    proc = veil_process(
        embedded.data_dir, "logs", printer, "-f", stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    tail = Following(proc)
    tail.collect()
    yield tail
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_follow_prints_a_new_entry_then_stops_cleanly_on_ctrl_c(
    veil: CliRunner, following: Following
) -> None:
    wait_until(lambda: following.saw("seen first-4e1a"), 60, "the existing entry")
    run(veil, "invoke", "pylogs", "-d", "later-77c2", "--timeout", COLD_START_S)
    wait_until(lambda: following.saw("seen later-77c2"), 60, "the new entry")
    following.proc.send_signal(signal.SIGINT)
    assert following.proc.wait(timeout=30) == 0
    assert not any("Traceback" in line for line in following.stderr)


def test_a_data_dir_without_a_log_key_gets_one_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made = tenant_log_key(tmp_path)
    assert "created the tenant log key" in capsys.readouterr().out
    assert (tmp_path / LOG_KEY_FILE).exists()
    assert tenant_log_key(tmp_path).public_bytes == made.public_bytes
    assert "created" not in capsys.readouterr().out

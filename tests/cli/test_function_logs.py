"""`veil logs NAME [-f]`: what a function printed, opened on the tenant's machine.

Each function prints a line holding its input and answers "done": a line
`veil logs` shows came from the sealed log the host kept (across a restart
of the gateway, too). One JavaScript function serves most tests (its cold
start is quick); one test deploys the same in Python.
"""

from __future__ import annotations

import json
import re
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
PYTHON_APP = """from veil_function import Request, Response


def handle(request: Request) -> Response:
    print("seen", request.text())
    return Response.text("done")
"""
JS_HANDLER = """export function handle(request) {
  console.log("seen " + request.text());
  return Response.text("done");
}
"""


def deploy_printer(veil: CliRunner, project: Path, lang: str, source: str, text: str) -> None:
    run(veil, "new", "--lang", lang, project.name, "--dir", str(project))
    (project / source).write_text(text)
    run(veil, "deploy", str(project))


@pytest.fixture(scope="module")
def printer(veil: CliRunner, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A JavaScript function that prints its input, invoked once (JS cold starts are quick)."""
    project = tmp_path_factory.mktemp("jslogs") / "jslogs"
    deploy_printer(veil, project, "js", "handler.js", JS_HANDLER)
    assert "done" in run(veil, "invoke", "jslogs", "-d", "first-4e1a", "--timeout", COLD_START_S)
    return "jslogs"


def test_veil_logs_shows_what_a_python_function_printed(veil: CliRunner, tmp_path: Path) -> None:
    deploy_printer(veil, tmp_path / "pylogs", "python", "app.py", PYTHON_APP)
    assert "done" in run(veil, "invoke", "pylogs", "-d", "py-9d03", "--timeout", COLD_START_S)
    out = run(veil, "logs", "pylogs")
    line = next(line for line in out.splitlines() if line.endswith("seen py-9d03"))
    assert " v1 " in line


def test_veil_logs_shows_time_request_id_version_and_text(veil: CliRunner, printer: str) -> None:
    out = run(veil, "logs", printer)
    line = next(line for line in out.splitlines() if line.endswith("seen first-4e1a"))
    stamp, clock, rid, version = line.split()[:4]
    assert len(stamp) == 10 and len(clock) == 12 and len(rid) == 12 and version == "v1"


def test_veil_logs_json_is_one_object_a_line(veil: CliRunner, printer: str) -> None:
    result = veil.invoke(app, ["logs", printer, "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    first = next(obj for obj in lines if obj["text"].startswith("seen first-4e1a"))
    assert (first["function"], first["version"]) == (f"cli/{printer}", 1)
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
    lines = run(veil, "logs").splitlines()
    assert lines and all(re.match(r"\d\d:\d\d:\d\d #\d+ +[a-z_]+ ", line) for line in lines)
    assert not any("seen" in line for line in lines)


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
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def test_follow_prints_a_new_entry_then_stops_cleanly_on_ctrl_c(
    veil: CliRunner, following: Following
) -> None:
    wait_until(lambda: following.saw("seen first-4e1a"), 60, "the existing entry")
    run(veil, "invoke", "jslogs", "-d", "later-77c2", "--timeout", COLD_START_S)
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


def test_a_function_named_logs_still_gets_its_record(veil: CliRunner, tmp_path: Path) -> None:
    """A function named like a route is a function like any other (no route is below a name)."""
    run(veil, "new", "logs", "--dir", str(tmp_path / "logs"))
    run(veil, "deploy", str(tmp_path / "logs"))
    assert "hello, x" in run(veil, "invoke", "logs", "-d", "x", "--timeout", COLD_START_S)

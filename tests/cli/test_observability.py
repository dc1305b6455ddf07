"""What the host shows about invocations: `/metrics` outcomes and `veil logs --json`.

The host cannot open a sealed result, but the enclave's receipt says in
clear whether the function succeeded, so `/metrics` counts a function
that fails as `outcome="error"`, not "ok".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from typer.testing import CliRunner

from tests.cli.runs import run
from veil.cli.main import app
from veil.wiring.embedded import EmbeddedPlatform

TRAPS = """(module (memory (export "memory") 1)
  (func (export "veil_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "veil_invoke") (param i32 i32) (result i64) unreachable))"""


def requests(embedded: EmbeddedPlatform, function: str) -> dict[str, float]:
    text = httpx.get(f"{embedded.gateway_url}/metrics").text
    pattern = rf'^veil_requests_total{{function="{re.escape(function)}",outcome="(\w+)"}} (\S+)$'
    return {m[1]: float(m[2]) for m in re.finditer(pattern, text, re.MULTILINE)}


def test_a_function_that_fails_is_counted_as_an_error_and_one_that_works_as_ok(
    veil: CliRunner, embedded: EmbeddedPlatform, tmp_path: Path
) -> None:
    project = tmp_path / "trapper"
    run(veil, "new", "trapper", "--dir", str(project))
    (project / "main.wat").write_text(TRAPS)
    run(veil, "deploy", str(project))
    assert "function failed" in run(veil, "invoke", "trapper", "-d", "x", code=1)
    assert requests(embedded, "cli/trapper") == {"error": 1.0}
    fine = tmp_path / "fine"
    run(veil, "new", "fine", "--dir", str(fine))
    run(veil, "deploy", str(fine))
    run(veil, "invoke", "fine", "-d", "x")
    assert requests(embedded, "cli/fine") == {"ok": 1.0}


def test_logs_json_prints_one_event_object_per_line(veil: CliRunner, tmp_path: Path) -> None:
    project = tmp_path / "logged"
    run(veil, "new", "logged", "--dir", str(project))
    run(veil, "deploy", str(project))
    result = veil.invoke(app, ["logs", "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert len(events) >= 2 and all(isinstance(e, dict) and "kind" in e for e in events)
    assert any(e["kind"] == "deployed" and e["detail"]["function"] == "cli/logged" for e in events)

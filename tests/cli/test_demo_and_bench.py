"""The README's demo runs, and every benchmark suite reports every metric it must."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from veil.cli.main import app

CORE_METRICS = {
    "invoke_echo_1k_p50_us",
    "invoke_echo_1k_p99_us",
    "invoke_echo_1k_first_of_session_us",
    "plain_wasmtime_echo_1k_p50_us",
    "secure_over_plain_echo_ratio",
    "invoke_sha256_64k_p50_us",
    "plain_wasmtime_sha256_64k_p50_us",
    "rewind_us",
    "fresh_instance_us",
    "cold_start_ms",
    "cold_over_rewind_ratio",
    "hpke_x25519_seal_open_us",
    "hpke_pq_hybrid_seal_open_us",
    "receipt_verify_us",
}


def test_demo_tells_the_story_and_refuses_the_tampered_request() -> None:
    # A real process, so what its children print (a worker's traceback at shutdown) shows too.
    result = subprocess.run(
        [sys.executable, "-m", "veil.cli", "demo"], capture_output=True, text=True, timeout=280
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout
    assert "MY CARD NUMBER IS 4111-1111-1111-1111" in output
    assert (
        "4111-1111-1111-1111"
        not in output.split("what the host saw:")[1].split("what the client got:")[0]
    )
    assert "403 DecryptionFailed" in output
    assert "403 ReplayedRequest" in output
    assert "keeps serving: 'still serving'" in output
    assert "matches hashlib" in output
    assert "acme/greet answered" in output
    assert "no hardware protection" in output
    assert "Traceback" not in result.stderr, result.stderr


def test_bench_core_quick_writes_every_metric_in_the_shared_format(tmp_path: Path) -> None:
    out = tmp_path / "core.json"
    result = CliRunner().invoke(app, ["bench", "core", "--quick", "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["suite"] == "core" and report["quick"] is True
    assert {m["name"] for m in report["metrics"]} >= CORE_METRICS
    assert all(m["value"] > 0 for m in report["metrics"])


def test_unknown_bench_suite_is_a_clear_error() -> None:
    result = CliRunner().invoke(app, ["bench", "nope"])
    assert result.exit_code == 2
    assert "unknown suite" in result.output

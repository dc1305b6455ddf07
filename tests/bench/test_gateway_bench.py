"""The `gateway` bench suite reports every metric BENCHMARKS.md names.

It starts the real embedded platform (KMS, gateway, enclave workers), the
bare uvicorn baseline and the load generator, so it also proves that a run
verifies its sampled responses and leaves no process behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from veil.bench.cputime import TreeCpu, process_tree
from veil.bench.gateway import HEADLINE
from veil.bench.harness import SUITES, Metric, metrics_of, run_suite

REQUIRED = {
    "gateway_secure_rps",
    "gateway_baseline_rps",
    "gateway_secure_over_baseline",
    "gateway_cpu_us_per_request_secure",
    "gateway_cpu_us_per_request_baseline",
    "gateway_p50_ms_c8",
    "gateway_p99_ms_c8",
    "stemcell_cold_start_ms",
    "ipc_roundtrip_p50_us",
}


@pytest.fixture(scope="module")
def metrics() -> dict[str, Metric]:
    assert SUITES["gateway"] == "veil.bench.gateway"
    return {m.name: m for m in metrics_of(run_suite("gateway", quick=True))}


@pytest.mark.timeout(150)
def test_the_quick_gateway_suite_reports_every_required_metric(
    metrics: dict[str, Metric],
) -> None:
    assert set(metrics) >= REQUIRED
    for name in REQUIRED:
        assert metrics[name].value > 0, name
    assert metrics["gateway_verified_responses"].value > 0
    assert metrics["gateway_errors"].value == 0


@pytest.mark.timeout(150)
def test_the_headline_ratio_pairs_both_sides_at_one_configuration(
    metrics: dict[str, Metric],
) -> None:
    value = {name: m.value for name, m in metrics.items()}
    tag = f"w{HEADLINE[0]}_c{HEADLINE[1]}"
    assert value["gateway_secure_rps"] == value[f"gateway_secure_rps_{tag}"]
    assert value["gateway_baseline_rps"] == value[f"gateway_baseline_rps_{tag}"]
    assert value["gateway_secure_over_baseline"] == pytest.approx(
        value["gateway_secure_rps"] / value["gateway_baseline_rps"]
    )
    assert (
        value["gateway_cpu_us_per_request_secure"]
        == (value[f"gateway_cpu_us_per_request_secure_{tag}"])
    )
    assert (
        value["gateway_cpu_us_per_request_baseline"]
        == (value[f"gateway_cpu_us_per_request_baseline_{tag}"])
    )


SPIN_THEN_SLEEP = (
    "import time\nend = time.process_time() + 0.3\n"
    "while time.process_time() < end: pass\ntime.sleep(30)"
)
PARENT_OF_SPINNER = (
    f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {SPIN_THEN_SLEEP!r}])"
)


def test_cpu_of_a_process_tree_counts_its_busy_children() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT_OF_SPINNER])
    try:
        cpu = TreeCpu([parent.pid])
        deadline = time.monotonic() + 20
        while cpu.elapsed() < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cpu.elapsed() >= 0.3
        assert len(process_tree([parent.pid])) == 2
    finally:
        for pid in process_tree([parent.pid]) - {parent.pid}:
            os.kill(pid, signal.SIGKILL)
        parent.kill()
        parent.wait()


def test_cpu_of_a_process_that_is_gone_is_nothing() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert process_tree([proc.pid]) == set()
    assert TreeCpu([proc.pid]).elapsed() == 0.0

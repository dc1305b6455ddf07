"""The `gateway` bench suite reports every metric BENCHMARKS.md names.

It starts the real embedded platform (KMS, gateway, enclave workers), the
bare uvicorn baseline and the load generator, so it also proves that a run
verifies its sampled responses and leaves no process behind.
"""

from __future__ import annotations

import pytest

from veil.bench.harness import SUITES, metrics_of, run_suite

REQUIRED = {
    "gateway_secure_rps",
    "gateway_baseline_rps",
    "gateway_secure_over_baseline",
    "gateway_p50_ms_c8",
    "gateway_p99_ms_c8",
    "stemcell_cold_start_ms",
    "ipc_roundtrip_p50_us",
}


@pytest.mark.timeout(120)
def test_the_quick_gateway_suite_reports_every_required_metric() -> None:
    assert SUITES["gateway"] == "veil.bench.gateway"
    metrics = {m.name: m for m in metrics_of(run_suite("gateway", quick=True))}
    assert set(metrics) >= REQUIRED
    for name in REQUIRED:
        assert metrics[name].value > 0, name
    assert metrics["gateway_verified_responses"].value > 0
    assert metrics["gateway_errors"].value == 0

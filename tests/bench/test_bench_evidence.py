"""The `evidence` bench suite runs quickly and reports every metric BENCHMARKS.md names."""

from __future__ import annotations

import time

from veil.bench.harness import SUITES, metrics_of, run_suite

REQUIRED = {"sgx_verify_per_s", "tdx_verify_per_s", "snp_verify_per_s", "collateral_load_ms"}


def test_the_quick_evidence_suite_reports_every_required_metric() -> None:
    assert SUITES["evidence"] == "veil.bench.evidence"
    start = time.monotonic()
    metrics = {m.name: m for m in metrics_of(run_suite("evidence", quick=True))}
    assert time.monotonic() - start < 20
    assert set(metrics) >= REQUIRED
    for name in REQUIRED:
        assert metrics[name].value > 0

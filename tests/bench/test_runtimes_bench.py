"""`veil bench runtimes --quick` reports every metric BENCHMARKS.md names, measured for real."""

from __future__ import annotations

from veil.bench.harness import metrics_of, run_suite

REQUIRED = {
    "python_warm_p50_ms",
    "python_warm_over_instance_call_ratio",
    "python_first_invoke_ms",
    "python_first_invoke_uncached_ms",
    "js_warm_over_instance_call_ratio",
    "python_native_p50_ms",
    "python_reset_ms",
    "python_build_s",
    "js_warm_p50_ms",
    "js_native_p50_ms",
    "js_reset_ms",
    "js_build_s",
}


def test_runtimes_quick_suite_reports_every_required_metric() -> None:
    metrics = {m.name: m for m in metrics_of(run_suite("runtimes", quick=True))}
    assert set(metrics) >= REQUIRED | {"python_gateway_p50_ms", "js_gateway_p50_ms"}
    for name, metric in metrics.items():
        assert metric.value >= 0, name
    assert metrics["python_warm_p50_ms"].value > metrics["python_native_p50_ms"].value
    assert metrics["python_rebuild_same_digest"].value == 1.0
    assert metrics["python_build_unpinned_s"].value > 0

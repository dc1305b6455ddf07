"""`/v1/stats` (`veil.host.gateway.stats`): the host's metrics as rates over a recent window."""

from __future__ import annotations

import asyncio

from veil.host.gateway.stats import Sampler
from veil.host.metrics import Metrics


def served(metrics: Metrics, name: str, seconds: float, outcome: str = "ok") -> None:
    """What the gateway records for one invocation."""
    metrics.requests.labels(name, outcome).inc()
    metrics.latency.labels(name).observe(seconds)


def test_invocations_between_two_readings_are_one_point_of_the_series() -> None:
    metrics = Metrics()
    sampler = Sampler(metrics)
    sampler.sample()
    for _ in range(3):
        served(metrics, "t/f", 0.004)
    sampler.sample()
    f = sampler.report()["functions"]["t/f"]
    assert [p["ok"] for p in f["series"]] == [3, 0]  # the second point: since the last reading
    assert f["series"][0]["mean_ms"] == 4.0 and f["series"][1]["mean_ms"] is None
    assert f["total"] == {"ok": 3, "error": 0}
    assert f["window"]["ok"] == 3 and f["window"]["mean_ms"] == 4.0


def test_errors_are_counted_apart_from_successes() -> None:
    metrics = Metrics()
    sampler = Sampler(metrics)
    sampler.sample()
    served(metrics, "t/f", 0.01)
    served(metrics, "t/f", 0.01, outcome="error")
    metrics.errors.labels("KmsUnavailable").inc()
    report = sampler.report()
    assert report["functions"]["t/f"]["window"]["error"] == 1
    assert report["functions"]["t/f"]["window"]["ok"] == 1
    assert report["errors"] == {"KmsUnavailable": 1}


def test_the_p95_is_the_upper_bound_of_the_bucket_that_holds_it() -> None:
    metrics = Metrics()
    sampler = Sampler(metrics)
    sampler.sample()
    for _ in range(19):
        served(metrics, "t/f", 0.003)
    served(metrics, "t/f", 0.3)  # the slowest 5% is one request
    assert sampler.report()["functions"]["t/f"]["window"]["p95_ms"] == 5.0


def test_readings_older_than_the_window_are_forgotten() -> None:
    metrics = Metrics()
    sampler = Sampler(metrics, interval_s=1.0, window_s=2.0)
    for _ in range(5):
        served(metrics, "t/f", 0.001)
        sampler.sample()
    f = sampler.report()["functions"]["t/f"]
    assert f["total"]["ok"] == 5
    assert f["window"]["ok"] == 2  # only what the last three readings span


def test_a_function_idle_in_the_window_has_no_rate_and_no_latency() -> None:
    metrics = Metrics()
    served(metrics, "t/f", 0.001)
    sampler = Sampler(metrics)
    sampler.sample()
    window = sampler.report()["functions"]["t/f"]["window"]
    assert window["per_s"] == 0 and window["mean_ms"] is None and window["p95_ms"] is None


def test_running_samples_until_the_body_ends() -> None:
    sampler = Sampler(Metrics(), interval_s=0.01)

    async def serve() -> int:
        async with sampler.running():
            await asyncio.sleep(0.2)
        taken = len(sampler.snapshots)
        await asyncio.sleep(0.05)
        assert len(sampler.snapshots) == taken  # stopped with the body
        return taken

    assert asyncio.run(serve()) >= 3

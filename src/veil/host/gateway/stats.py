"""`GET /v1/stats`: per-function invocation rates, latencies and errors over a recent window.

Prometheus counters only ever grow, and `/metrics` is for a scraper that
keeps its own history; the console has none. So a `Sampler` reads the
host's own metrics (`veil.host.metrics`: the same counters, nothing new is
counted on the invoke path) once a second and keeps the last two minutes of
readings; the report is the differences between neighbours. What it reads
is what the host can see anyway: names, outcomes as the receipt's clear
`ok` field says, and gateway-side timings; never a payload.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Final

from fastapi import APIRouter

from veil.host.metrics import Metrics

INTERVAL_S: Final = 1.0
WINDOW_S: Final = 120.0


@dataclass
class Reading:
    """One function's cumulative counts at one moment (Prometheus counters, as read)."""

    ok: float = 0.0
    error: float = 0.0
    latency_sum: float = 0.0
    latency_count: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)
    """Cumulative count of invocations at or under each upper bound, in seconds."""


@dataclass(frozen=True)
class Snapshot:
    time: float
    functions: dict[str, Reading]
    errors: dict[str, float]


def read(metrics: Metrics, now: float) -> Snapshot:
    """The counters of `metrics` at `now`, per function (requests, latency) and per error kind."""
    functions: dict[str, Reading] = {}
    for family in (*metrics.requests.collect(), *metrics.latency.collect()):
        for sample in family.samples:
            reading = functions.setdefault(sample.labels["function"], Reading())
            if sample.name == "veil_requests_total" and sample.labels["outcome"] == "ok":
                reading.ok = sample.value
            elif sample.name == "veil_requests_total":
                reading.error = sample.value
            elif sample.name == "veil_invoke_seconds_sum":
                reading.latency_sum = sample.value
            elif sample.name == "veil_invoke_seconds_count":
                reading.latency_count = sample.value
            elif sample.name == "veil_invoke_seconds_bucket":
                reading.buckets[float(sample.labels["le"])] = sample.value
    errors = {
        s.labels["kind"]: s.value
        for family in metrics.errors.collect()
        for s in family.samples
        if s.name == "veil_errors_total"
    }
    return Snapshot(now, functions, errors)


def _mean_ms(before: Reading, after: Reading) -> float | None:
    count = after.latency_count - before.latency_count
    return round(1000 * (after.latency_sum - before.latency_sum) / count, 3) if count else None


def _quantile_ms(before: Reading, after: Reading, q: float) -> float | None:
    """The upper bound of the latency bucket holding the `q` quantile (ms): "at most this"."""
    count = after.latency_count - before.latency_count
    if not count:
        return None
    for bound in sorted(after.buckets):
        if after.buckets[bound] - before.buckets.get(bound, 0.0) >= q * count:
            return None if bound == float("inf") else 1000 * bound
    return None


class Sampler:
    """Owns the recent readings of the host's metrics; touches nothing but `Metrics`."""

    def __init__(
        self, metrics: Metrics, interval_s: float = INTERVAL_S, window_s: float = WINDOW_S
    ) -> None:
        self.metrics, self.interval_s, self.window_s = metrics, interval_s, window_s
        self.snapshots: deque[Snapshot] = deque(maxlen=int(window_s / interval_s) + 1)

    def sample(self) -> None:
        self.snapshots.append(read(self.metrics, time.time()))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Sample every `interval_s` for the body (the gateway's lifespan)."""
        task = asyncio.create_task(self._loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval_s)

    def report(self) -> dict[str, Any]:
        """Totals, the window's rates and latencies, and one point per interval, per function."""
        now = read(self.metrics, time.time())
        history = [*self.snapshots, now]
        first = history[0]
        span = max(now.time - first.time, self.interval_s)
        functions = {}
        for name, latest in sorted(now.functions.items()):
            start = first.functions.get(name, Reading())
            served = latest.ok + latest.error - start.ok - start.error
            functions[name] = {
                "total": {"ok": latest.ok, "error": latest.error},
                "window": {
                    "ok": latest.ok - start.ok,
                    "error": latest.error - start.error,
                    "per_s": round(served / span, 3),
                    "mean_ms": _mean_ms(start, latest),
                    "p95_ms": _quantile_ms(start, latest, 0.95),
                },
                "series": _series(name, history),
            }
        return {
            "interval_s": self.interval_s,
            "window_s": round(span, 3),
            "time": now.time,
            "functions": functions,
            "errors": now.errors,
        }


def _series(name: str, history: list[Snapshot]) -> list[dict[str, Any]]:
    """One point per pair of neighbouring readings: what happened between them."""
    points = []
    for before, after in pairwise(history):
        b = before.functions.get(name, Reading())
        a = after.functions.get(name, Reading())
        points.append(
            {
                "t": round(after.time, 3),
                "ok": a.ok - b.ok,
                "error": a.error - b.error,
                "mean_ms": _mean_ms(b, a),
            }
        )
    return points


def stats_router(sampler: Sampler) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/stats")
    def stats() -> dict[str, Any]:
        """Per-function rates, latencies and errors over the last `window_s` (`Sampler`)."""
        return sampler.report()

    return router

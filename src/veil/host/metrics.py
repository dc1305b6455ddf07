"""Prometheus metrics of the host: requests, latency, cold starts, rewinds, pool, errors.

`veil_requests{outcome}` is "ok" when the function returned, "error" when
it failed or the request was refused. The host cannot open the sealed
result, but the enclave's signed receipt carries `ok` in clear (the client
checks that it agrees with the sealed result), so `host.replies` reads it
there; the host does not verify that signature, and a host that forges
the field only lies in its own metrics.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "veil_requests",
            "Invocations by function and outcome",
            ["function", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            "veil_invoke_seconds",
            "Gateway-side invocation latency",
            ["function"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.cold_starts = Counter(
            "veil_cold_starts", "Functions loaded into an enclave", ["function"], registry=r
        )
        self.cold_start_attempts = Counter(
            "veil_cold_start_attempts", "Cold starts begun (loaded or not)", registry=r
        )
        self.cold_start_seconds = Histogram(
            "veil_cold_start_seconds",
            "Key release + load + init",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rewinds = Counter(
            "veil_rewinds", "Sandbox rewinds (one per request an enclave served)", registry=r
        )
        self.pool = Gauge("veil_pool_enclaves", "Enclave workers by state", ["state"], registry=r)
        self.errors = Counter("veil_errors", "Errors by kind", ["kind"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)

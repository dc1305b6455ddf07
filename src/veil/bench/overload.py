"""`veil bench overload`: goodput, latency and health past saturation, in one run.

The embedded platform with 2 enclave workers and the gateway's default
limits (a function's concurrency limit, the 10 s queue-time limit)
serves the 1 KiB echo to the load generator at concurrency 8, 32, 64, 256
and 512. The client retries a 429 or 503 at once, with no backoff (the
worst client the issue names; it resends the refused envelope, which no
enclave saw). Peak goodput is the best of these levels, measured in the
same run, and each level's goodput is reported as a ratio to it.

- `p99_ms_c{256,512}`: p99 of served requests (the attempt that was served);
- `longest_wait_s_c512`: the longest any served request took at 512 (its
  served attempt: queue wait + service), to compare with the queue-time limit;
  `longest_with_retries_s_c512` counts from the first attempt;
- `healthz_p99_ms_overload`: `GET /healthz` on its own keep-alive
  connection every 10 ms while the 512 level runs;
- `refusal_cost_us`: gateway-process CPU per 429, measured last, on a
  gateway restarted with a function concurrency limit of 0 (so every
  invocation is refused before its body is read), at concurrency 64 with
  nothing retried: `cpu / refused`.

A sample of the 200s of every level is opened and verified.
"""

from __future__ import annotations

import http.client
import logging
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from veil.bench.cputime import cpu_seconds
from veil.bench.gateway import DATA, ECHO, BenchFailed, Verification, _pid, _verify
from veil.bench.harness import Metric, percentile
from veil.bench.loadgen import LoadGenerator, LoadResult
from veil.client.trust import TrustAnchors
from veil.wiring.bench import BenchPlatform, EnvelopePool, enclave_keys, running_platform
from veil.wiring.embedded import HOST

LEVELS = (8, 32, 64, 256, 512)
WORKERS = 2
QUEUE_LIMIT_S = 10.0
"""The default queue-time limit (`PoolConfig.max_wait_s`): the longest wait's target."""


@dataclass
class Level:
    concurrency: int
    result: LoadResult
    gateway_cpu_s: float

    @property
    def p99_ms(self) -> float:
        return percentile(self.result.latencies_us, 99) / 1000 if self.result.latencies_us else 0.0


class HealthProbe(threading.Thread):
    """`GET /healthz` every `interval_s` on one keep-alive connection, timing each."""

    def __init__(self, port: int, interval_s: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.port, self.interval_s = port, interval_s
        self.latencies_ms: list[float] = []
        self.failures = 0
        self._done = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        try:
            while not self._done.wait(self.interval_s):
                start = time.perf_counter()
                try:
                    conn.request("GET", "/healthz")
                    response = conn.getresponse()
                    response.read()
                    ok = response.status == 200
                except (OSError, http.client.HTTPException):
                    ok = False
                    conn.close()
                if ok:
                    self.latencies_ms.append((time.perf_counter() - start) * 1000)
                else:
                    self.failures += 1
        finally:
            conn.close()

    def stop(self) -> None:
        self._done.set()
        self.join()


def _start(platform: BenchPlatform) -> None:
    """The gateway with its default admission limits, and 2 warm enclave workers."""
    platform.stop_gateway()
    platform.stem_cells, platform.max_workers = WORKERS, WORKERS
    platform.gateway_args = []
    platform.start_gateway()


def _level(
    platform: BenchPlatform,
    loadgen: LoadGenerator,
    pool: EnvelopePool,
    trust: TrustAnchors,
    concurrency: int,
    seconds: tuple[float, float, float],
    tally: Verification,
    probe: HealthProbe | None = None,
) -> Level:
    duration_s, warmup_s, expected_rps = seconds
    n = int(expected_rps * 1.5 * (duration_s + warmup_s)) + concurrency + 100
    sealed = pool.take(n)
    if probe is not None:  # after sealing: the probe is timed, not the bench's own work
        probe.start()
    gateway = _pid(platform.gateway_proc)
    before = cpu_seconds([gateway]).get(gateway, 0.0)
    result = loadgen.run(
        HOST,
        platform.gateway_port,
        f"/v1/invoke/{ECHO}",
        [s.envelope for s in sealed],
        concurrency,
        duration_s,
        warmup_s,
        sample_every=max(1, n // 50),
        retry_refused=True,
    )
    cpu = cpu_seconds([gateway]).get(gateway, 0.0) - before
    _verify(sealed, result, trust, tally)
    pool.consume(result.sent)
    return Level(concurrency, result, cpu)


def run(quick: bool) -> list[Metric]:
    logging.getLogger("veil.kms").setLevel(logging.ERROR)
    duration_s, warmup_s = (2.0, 0.5) if quick else (8.0, 1.0)
    with (
        tempfile.TemporaryDirectory(prefix="veil-bench-overload-") as tmp,
        running_platform(Path(tmp)) as platform,
        LoadGenerator() as loadgen,
    ):
        platform.start_trust_and_tenant()
        _start(platform)
        with platform.client() as client:
            record = platform.deploy_echo(client, ECHO)
            trust = client.trust
            client.invoke(ECHO, DATA)  # cold start
            enclaves = enclave_keys(client)  # both workers: the other loads on its first request
        pool = EnvelopePool(record, DATA, enclaves)
        tally = Verification()
        levels: list[Level] = []
        probe = HealthProbe(platform.gateway_port)
        expected = 4000.0  # bodies enough not to run out at the first level
        for concurrency in LEVELS:
            seconds = (duration_s, warmup_s, expected)
            during = probe if concurrency == max(LEVELS) else None
            levels.append(
                _level(platform, loadgen, pool, trust, concurrency, seconds, tally, during)
            )
            expected = max(expected, levels[-1].result.rps)
        probe.stop()
        refusal_us = _refusal_cost(platform, loadgen, pool, 1.0 if quick else 4.0)
    if tally.failed:
        raise BenchFailed(f"{tally.failed} sampled responses failed verification")
    return _metrics(levels, probe, tally, refusal_us)


def _refusal_cost(
    platform: BenchPlatform, loadgen: LoadGenerator, pool: EnvelopePool, duration_s: float
) -> float:
    """Gateway CPU µs per 429 from a gateway that refuses every invocation."""
    platform.stop_gateway()
    platform.stem_cells = 0
    platform.gateway_args = ["--function-concurrency", "0"]
    platform.start_gateway()
    envelope = pool.take(1)[0].envelope  # refused unread, so one envelope serves every request
    gateway = _pid(platform.gateway_proc)
    before = cpu_seconds([gateway]).get(gateway, 0.0)
    result = loadgen.run(
        HOST,
        platform.gateway_port,
        f"/v1/invoke/{ECHO}",
        [envelope] * int(15_000 * duration_s),
        64,
        duration_s,
    )
    cpu = cpu_seconds([gateway]).get(gateway, 0.0) - before
    refused = result.statuses.get(429, 0)
    if refused == 0 or result.ok:
        raise BenchFailed(f"the refusing gateway answered {result.statuses}")
    return cpu * 1e6 / refused


def _metrics(
    levels: list[Level], probe: HealthProbe, tally: Verification, refusal_us: float
) -> list[Metric]:
    by_c = {lv.concurrency: lv for lv in levels}
    peak = max(lv.result.rps for lv in levels)
    out = [
        Metric(
            f"goodput_c{c}_ratio",
            by_c[c].result.rps / peak,
            "ratio",
            "higher",
            0.9 if c == 512 else None,
        )
        for c in (8, 64, 256, 512)
    ]
    top, quiet = by_c[512], by_c[64]
    per_ok = quiet.gateway_cpu_s / quiet.result.ok if quiet.result.ok else 0.0
    refused = top.result.refused
    health = probe.latencies_ms or [float("inf")]
    out += [
        Metric("p99_ms_c256", by_c[256].p99_ms, "ms", "lower"),
        Metric("p99_ms_c512", top.p99_ms, "ms", "lower"),
        Metric(
            "longest_wait_s_c512",
            max(top.result.latencies_us, default=0.0) / 1e6,
            "s",
            "lower",
            QUEUE_LIMIT_S,
        ),
        Metric("healthz_p99_ms_overload", percentile(health, 99), "ms", "lower", 50.0),
        Metric("refusal_cost_us", refusal_us, "us", "lower"),
        Metric("refusal_over_served_cpu_ratio", refusal_us / (per_ok * 1e6 or 1), "ratio", "lower"),
        Metric("peak_goodput_rps", peak, "req/s", "higher"),
        Metric(
            "longest_with_retries_s_c512", top.result.longest_with_retries_us / 1e6, "s", "lower"
        ),
        Metric("refusals_c512", float(refused), "count", "lower"),
        Metric("errors_c512", float(top.result.errors), "count", "lower"),
        Metric("healthz_failures_overload", float(probe.failures), "count", "lower", 0.0),
        Metric("gateway_cpu_us_per_ok_c64", per_ok * 1e6, "us", "lower"),
        Metric("verified_samples", float(tally.verified), "count", "higher"),
    ]
    out += [
        Metric(f"goodput_rps_c{lv.concurrency}", lv.result.rps, "req/s", "higher") for lv in levels
    ]
    return out

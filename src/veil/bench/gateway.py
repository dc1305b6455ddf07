"""`veil bench gateway`: secure invocations over HTTP against a bare uvicorn baseline.

One run starts the embedded platform in a temporary data directory (KMS +
verifier process, gateway process, real enclave worker processes),
registers a tenant, deploys the 1 KiB echo and measures, all on loopback:

- secure throughput and p50/p99 latency of sealed echo invocations through
  the gateway with W = 1 and 2 enclave workers at several concurrency
  levels, from a load generator in its own process (`veil.bench.loadgen`);
  every envelope is unique and sealed to one of the pool's W enclaves in
  turn, a sample of the responses is verified with `open_response`, and
  every non-200 answer counts as an error;
- the baseline, back to back with each secure pool size in the same run:
  the same Wasm echo behind a bare uvicorn app with plain wasmtime
  (`veil.bench.baseline_app`), same load generator, same concurrency levels;
- cold start on a stem-cell enclave (the gateway's `cold_start` event, and
  the client-observed first call); the IPC round trip to a worker.

Like with like. "Server process count" is the number of processes that
serve requests: on the secure side the gateway plus its W enclave workers
(W + 1; the KMS process answers no invocation once keys are released), on
the baseline side W + 1 uvicorn worker processes (their supervisor only
holds the socket). Both sides get the same concurrency. The headline
`gateway_secure_over_baseline` divides the two at one fixed configuration,
`HEADLINE` (W, concurrency), never the best secure run by another run;
`gateway_secure_over_baseline_w{W}_c{C}` gives the ratio at every pair.

`gateway_cpu_us_per_request_{secure,baseline}`: user+sys time of every
server process from /proc before and after the run (secure: gateway,
enclave workers, KMS; baseline: uvicorn supervisor and workers) over the
requests it served (warm-up included, as is its CPU), at `HEADLINE`.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from veil.bench.cputime import TreeCpu
from veil.bench.harness import Metric, percentile
from veil.bench.loadgen import LoadGenerator, LoadResult
from veil.client.invoke import SealedRequest, open_response, seal
from veil.client.trust import TrustAnchors
from veil.wiring.bench import TENANT, BenchPlatform, EnvelopePool, enclave_keys, running_platform
from veil.wiring.embedded import HOST
from veil.wiring.processes import free_port, stop_process, wait_healthy

ECHO = f"{TENANT}/echo"
DATA = b"x" * 1024
LEVELS = (1, 8, 32)
WORKERS = (1, 2)
HEADLINE = (1, 8)
"""(enclave workers, concurrency) of the headline figures, fixed in advance: 2 server
processes on each side for a 2-core machine, at the concurrency `gateway_p50_ms_c8` names."""


class BenchFailed(RuntimeError):
    """A benchmark phase could not run (a service did not start, a verification failed)."""


@dataclass
class Level:
    workers: int
    """Enclave workers of the secure side this level is paired with (W + 1 server processes)."""
    concurrency: int
    result: LoadResult
    cpu_s: float
    """user+sys seconds of every server process during the run."""

    @property
    def cpu_us_per_request(self) -> float:
        served = self.result.sent - self.result.errors
        return self.cpu_s * 1e6 / served if served else 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.result.latencies_us, 50) / 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.result.latencies_us, 99) / 1000


@dataclass
class Verification:
    verified: int = 0
    failed: int = 0


def _verify(
    sealed: list[SealedRequest], result: LoadResult, trust: TrustAnchors, tally: Verification
) -> None:
    for index, body in result.samples.items():
        try:
            invocation = open_response(sealed[index], body, trust)
        except Exception:
            tally.failed += 1
            continue
        if invocation.ok and invocation.output == DATA:
            tally.verified += 1
        else:
            tally.failed += 1


def _measure_secure(
    platform: BenchPlatform,
    loadgen: LoadGenerator,
    pool: EnvelopePool,
    trust: TrustAnchors,
    workers: int,
    duration_s: float,
    warmup_s: float,
    tally: Verification,
) -> list[Level]:
    platform.start_pool(stem_cells=workers, max_workers=workers)
    port, path = platform.gateway_port, f"/v1/invoke/{ECHO}"
    with platform.client() as client:
        client.invoke(ECHO, DATA)  # cold start on a stem cell
        pool.target(enclave_keys(client))
        # a burst at the highest concurrency makes every allowed worker warm
        sealed = pool.take(int(2000 * warmup_s) + 200)
        burst = loadgen.run(
            HOST, port, path, [s.envelope for s in sealed], max(LEVELS), warmup_s, 0.0
        )
        pool.consume(burst.sent)
        warm = [e for e in client.enclaves() if ECHO in e["functions"]]
        if len(warm) < workers:
            logging.getLogger("veil.bench").warning(
                "only %d of %d workers warm for %s", len(warm), workers, ECHO
            )
    levels = []
    expected_rps = max(1000.0, burst.ok / warmup_s if warmup_s else 0.0)
    roots = [_pid(platform.gateway_proc), _pid(platform.trust_proc)]
    for concurrency in LEVELS:
        n = int(expected_rps * 1.5 * (duration_s + warmup_s)) + 100
        sealed = pool.take(n)
        cpu = TreeCpu(roots)
        result = loadgen.run(
            HOST,
            port,
            path,
            [s.envelope for s in sealed],
            concurrency,
            duration_s,
            warmup_s,
            sample_every=max(1, n // 50),
        )
        levels.append(Level(workers, concurrency, result, cpu.elapsed()))
        _verify(sealed, result, trust, tally)
        pool.consume(result.sent)
        expected_rps = max(expected_rps, result.rps)
    platform.stop_gateway()
    return levels


def _pid(proc: subprocess.Popen[bytes] | None) -> int:
    if proc is None:
        raise BenchFailed("a server process the bench measures is not running")
    return proc.pid


def _start_baseline(platform: BenchPlatform, processes: int) -> tuple[int, subprocess.Popen[bytes]]:
    """The baseline app with `processes` uvicorn workers, once every one of them answers."""
    port = free_port()
    argv = ["--host", HOST, "--port", str(port), "--workers", str(processes)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "veil.bench.baseline_app", *argv], stdin=subprocess.DEVNULL
    )
    platform.others.append(proc)  # stopped with the platform, however the run ends
    url = f"http://{HOST}:{port}"
    wait_healthy(url, process=proc)
    deadline, seen = time.monotonic() + 30, set()
    while len(seen) < processes:
        if time.monotonic() > deadline:
            raise BenchFailed(f"only {len(seen)} of {processes} baseline workers answer")
        # a fresh connection each time, so every worker gets its turn at accept()
        seen.add(httpx.get(f"{url}/healthz", headers={"connection": "close"}).json()["pid"])
    return port, proc


def _measure_baseline(
    platform: BenchPlatform,
    loadgen: LoadGenerator,
    workers: int,
    duration_s: float,
    warmup_s: float,
) -> list[Level]:
    """The baseline with as many serving processes as `workers` enclave workers + gateway."""
    port, proc = _start_baseline(platform, workers + 1)
    try:
        loadgen.run(HOST, port, "/invoke", [DATA] * 500, max(LEVELS), warmup_s, 0.0)
        levels = []
        for concurrency in LEVELS:
            n = int(20_000 * (duration_s + warmup_s))
            cpu = TreeCpu([proc.pid])
            result = loadgen.run(
                HOST,
                port,
                "/invoke",
                [DATA] * n,
                concurrency,
                duration_s,
                warmup_s,
                content_type="application/octet-stream",
            )
            levels.append(Level(workers, concurrency, result, cpu.elapsed()))
    finally:
        stop_process(proc)
    return levels


def _measure_cold_starts(platform: BenchPlatform, count: int) -> tuple[list[float], list[float]]:
    """(gateway-reported cold start ms, client-observed first call ms) of `count` functions."""
    platform.start_pool(stem_cells=count, max_workers=count)
    reported, observed = [], []
    with platform.client() as client, httpx.Client(base_url=platform.gateway_url) as http:
        for i in range(count):
            name = f"{TENANT}/cold-{i}"
            platform.deploy_echo(client, name)
            request = seal(client.function(name), DATA, enclave=client.enclave_for(name))
            http.get("/healthz")  # a warm keep-alive connection: time the call, not the connect
            start = time.perf_counter()
            response = http.post(
                f"/v1/invoke/{name}",
                content=request.envelope,
                headers={"content-type": "application/cbor"},
                timeout=30,
            )
            elapsed = time.perf_counter() - start
            if response.status_code != 200:
                raise BenchFailed(f"cold invocation answered {response.status_code}")
            if open_response(request, response.content, client.trust).output != DATA:
                raise BenchFailed("cold invocation returned the wrong output")
            observed.append(elapsed * 1000)
            events = [
                e
                for e in client.events()
                if e["kind"] == "cold_start" and e["detail"]["function"] == name
            ]
            if len(events) != 1:
                raise BenchFailed(f"expected one cold_start event for {name}, got {len(events)}")
            reported.append(float(events[0]["detail"]["ms"]))
    platform.stop_gateway()
    return reported, observed


def _measure_ipc(platform: BenchPlatform, n: int, batches: int = 10) -> tuple[float, float]:
    """p50 µs of a 16-byte and of a 1 KiB `ping` to a worker the dispatcher spawned.

    The `n` round trips of each size go in `batches` spread over about a
    second and are pooled, so one burst of load from elsewhere on the
    machine does not decide the figure.
    """
    import uvloop

    from veil.host.dispatcher import Dispatcher
    from veil.host.pool import PoolConfig
    from veil.host.registry import Registry
    from veil.kms.remote import RemoteTrust

    async def measure() -> tuple[float, float]:
        remote = RemoteTrust(platform.trust_url)
        dispatcher = Dispatcher(
            Registry(platform.data_dir / "ipc-bench.sqlite3"),
            remote,
            platform.data_dir / "sim-host.key",
            PoolConfig(stem_cells=1, max_workers=1),
        )
        await dispatcher.start()
        try:
            (worker,) = dispatcher.workers.values()
            channel = worker.channel
            payloads = (b"p" * 16, b"k" * 1024)
            samples: dict[bytes, list[float]] = {p: [] for p in payloads}
            for _ in range(200):
                await channel.call("ping", payloads[0])
            for _ in range(batches):
                for payload in payloads:
                    for _ in range(n // batches):
                        start = time.perf_counter_ns()
                        await channel.call("ping", payload)
                        samples[payload].append((time.perf_counter_ns() - start) / 1000)
                await asyncio.sleep(0.1)
            small, large = (percentile(samples[p], 50) for p in payloads)
            return small, large
        finally:
            await dispatcher.stop()
            remote.close()

    return uvloop.run(measure())


def run(quick: bool) -> list[Metric]:
    logging.getLogger("veil.kms").setLevel(logging.ERROR)
    duration_s, warmup_s = (1.2, 0.3) if quick else (5.0, 1.0)
    with (
        tempfile.TemporaryDirectory(prefix="veil-bench-gw-") as tmp,
        running_platform(Path(tmp)) as platform,
        LoadGenerator() as loadgen,
    ):
        platform.start_trust_and_tenant()
        ipc_us, ipc_1k_us = _measure_ipc(platform, 2000 if quick else 20000)
        cold_ms, first_call_ms = _measure_cold_starts(platform, 2 if quick else 5)
        platform.start_pool(stem_cells=1, max_workers=1)
        with platform.client() as client:
            record = platform.deploy_echo(client, ECHO)
            trust = client.trust
        platform.stop_gateway()
        pool = EnvelopePool(record, DATA, [])  # targeted at each pool's enclaves
        tally = Verification()
        secure: list[Level] = []
        baseline: list[Level] = []
        for workers in WORKERS:  # each pool size back to back with its baseline
            secure += _measure_secure(
                platform, loadgen, pool, trust, workers, duration_s, warmup_s, tally
            )
            baseline += _measure_baseline(platform, loadgen, workers, duration_s, warmup_s)
    if tally.failed:
        raise BenchFailed(f"{tally.failed} sampled responses failed verification")
    return _metrics(secure, baseline, tally, cold_ms, first_call_ms, ipc_us, ipc_1k_us)


def _metrics(
    secure: list[Level],
    baseline: list[Level],
    tally: Verification,
    cold_ms: list[float],
    first_call_ms: list[float],
    ipc_us: float,
    ipc_1k_us: float,
) -> list[Metric]:
    paired = {(lv.workers, lv.concurrency): lv for lv in baseline}
    sec = {(lv.workers, lv.concurrency): lv for lv in secure}
    head, base = sec[HEADLINE], paired[HEADLINE]
    c8 = sec[(HEADLINE[0], 8)]
    best = max(secure, key=lambda lv: lv.result.rps)
    errors = sum(lv.result.errors for lv in secure)
    ratio = head.result.rps / base.result.rps
    metrics = [
        Metric("gateway_secure_rps", head.result.rps, "rps", "higher", 1500.0),
        Metric("gateway_baseline_rps", base.result.rps, "rps", "higher"),
        Metric("gateway_secure_over_baseline", ratio, "ratio", "higher", 0.70),
        Metric("gateway_cpu_us_per_request_secure", head.cpu_us_per_request, "us", "lower"),
        Metric("gateway_cpu_us_per_request_baseline", base.cpu_us_per_request, "us", "lower"),
        Metric("gateway_p50_ms_c8", c8.p50_ms, "ms", "lower", 2.0),
        Metric("gateway_p99_ms_c8", c8.p99_ms, "ms", "lower"),
        Metric("stemcell_cold_start_ms", percentile(cold_ms, 50), "ms", "lower", 20.0),
        Metric("ipc_roundtrip_p50_us", ipc_us, "us", "lower", 50.0),
        Metric("gateway_errors", float(errors), "count", "lower", 0.0),
        Metric("gateway_verified_responses", float(tally.verified), "count", "higher"),
        Metric("gateway_headline_workers", float(HEADLINE[0]), "workers", "higher"),
        Metric("gateway_headline_concurrency", float(HEADLINE[1]), "conns", "higher"),
        Metric("gateway_secure_best_rps", best.result.rps, "rps", "higher"),
        Metric("stemcell_first_call_ms", percentile(first_call_ms, 50), "ms", "lower"),
        Metric("ipc_roundtrip_1k_p50_us", ipc_1k_us, "us", "lower"),
    ]
    for key, lv in sec.items():
        tag, other = f"w{key[0]}_c{key[1]}", paired[key]
        metrics += [
            Metric(f"gateway_secure_rps_{tag}", lv.result.rps, "rps", "higher"),
            Metric(f"gateway_p50_ms_{tag}", lv.p50_ms, "ms", "lower"),
            Metric(f"gateway_p99_ms_{tag}", lv.p99_ms, "ms", "lower"),
            Metric(
                f"gateway_cpu_us_per_request_secure_{tag}", lv.cpu_us_per_request, "us", "lower"
            ),
            Metric(f"gateway_baseline_rps_{tag}", other.result.rps, "rps", "higher"),
            Metric(f"gateway_baseline_p50_ms_{tag}", other.p50_ms, "ms", "lower"),
            Metric(
                f"gateway_cpu_us_per_request_baseline_{tag}",
                other.cpu_us_per_request,
                "us",
                "lower",
            ),
            Metric(
                f"gateway_secure_over_baseline_{tag}",
                lv.result.rps / other.result.rps,
                "ratio",
                "higher",
            ),
        ]
    return metrics


def main() -> None:  # pragma: no cover - a convenience for profiling runs
    quick = "--quick" in sys.argv
    for m in run(quick):
        print(f"{m.name:40s} {m.value:12.3f} {m.unit}")


if __name__ == "__main__":
    main()

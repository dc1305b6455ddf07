"""The dispatcher: which enclave serves a request, cold starts, and retries.

- Warm pool per function: workers that hold its keys; a request goes to the
  least loaded one below the per-enclave concurrency limit, else waits in
  the `WaitQueue` (bounded by its deadline and by `max_queue`).
- Scale up: when every warm worker of a function is full, one more is made
  warm (a stem cell, a new worker, or another function's worker).
- A worker that dies mid-request is replaced and the request retried once
  on another enclave (requests are idempotent by request id), else answered
  with `WorkerDied`.

The processes themselves are the `WorkerPool`'s (`host.pool`).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from veil.host.events import EventLog
from veil.host.ipc import ChannelClosed, ChannelError
from veil.host.metrics import Metrics
from veil.host.pool import PoolConfig, WorkerHandle, WorkerPool
from veil.host.provision import load_function
from veil.host.registry import Registry
from veil.host.transport import (
    DeadlineExceeded,
    FunctionNotDeployed,
    NoCapacity,
    Overloaded,
    WorkerDied,
)
from veil.host.trust import TrustServices
from veil.host.waiting import WaitQueue
from veil.trusted import edge
from veil.trusted.errors import VeilError


class Dispatcher:
    """Owns the routing of requests to enclaves and the cold starts; the local `EnclaveTransport`.

    It may touch the registry (to find a function's bundle), the pool's
    workers (to call them) and the KMS and verifier through `trust` (to relay
    for enclaves); it sees routing metadata and sealed bytes only.
    """

    def __init__(
        self,
        registry: Registry,
        trust: TrustServices,
        sim_key: Path,
        config: PoolConfig | None = None,
        events: EventLog | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.registry, self.trust = registry, trust
        self.config = config or PoolConfig()
        self.events = events or EventLog()
        self.metrics = metrics or Metrics()
        self.waiting = WaitQueue(self.config.max_queue)
        self.pool = WorkerPool(
            trust, sim_key, self.config, self.events, self.metrics, self.waiting.wake_all
        )
        self._cold: dict[str, asyncio.Task[None]] = {}
        self._cold_errors: dict[str, Exception] = {}

    @property
    def workers(self) -> dict[int, WorkerHandle]:
        return self.pool.workers

    async def start(self) -> None:
        await self.pool.start()

    async def stop(self) -> None:
        await self.pool.stop()

    async def invoke(self, function: str, envelope: bytes, deadline: float) -> bytes:
        """Serve one sealed request; retried once on another enclave if its worker dies."""
        for attempt in (1, 2):
            worker = await self._acquire(function, deadline)
            worker.last_used = time.monotonic()
            try:
                reply = await worker.channel.call(
                    "invoke", envelope, timeout=max(0.001, deadline - time.monotonic())
                )
            except ChannelClosed:
                self.pool.lost(worker, "channel closed mid-request")
                if attempt == 2 or time.monotonic() >= deadline:
                    raise WorkerDied("the enclave serving this request died") from None
                self.events.emit("request_retried", function=function)
                continue
            except TimeoutError:
                raise DeadlineExceeded("deadline passed while the enclave was working") from None
            except ChannelError as exc:
                raise edge.rebuild(exc.name) from None
            finally:
                self.waiting.wake_one(worker.functions)
            self.metrics.rewinds.inc()
            return reply
        raise AssertionError("unreachable")

    async def _acquire(self, function: str, deadline: float) -> WorkerHandle:
        limit = self.config.enclave_concurrency
        while True:
            if function in self._cold_errors:
                raise self._cold_errors.pop(function)
            warm = [
                w
                for w in self.workers.values()
                if function in w.functions and w.inflight < limit and not w.dead
            ]
            if warm:
                return min(warm, key=lambda w: w.inflight)
            if function not in self._cold:
                self._start_cold(function)
            try:
                await self.waiting.wait(function, deadline)
            except Overloaded:
                self.metrics.errors.labels("overloaded").inc()
                raise

    def _start_cold(self, function: str) -> None:
        entry = self.registry.get(function)
        if entry is None:
            raise FunctionNotDeployed(f"function {function!r} is not deployed")
        task = asyncio.create_task(self._cold_start(function, entry.digest))
        self._cold[function] = task
        task.add_done_callback(lambda _t: self._cold.pop(function, None))

    async def _cold_start(self, function: str, digest: bytes) -> None:
        start = time.perf_counter()
        worker = await self.pool.host_for(function)
        if worker is None:
            if not any(function in w.functions for w in self.workers.values()):
                self._cold_errors[function] = NoCapacity("no enclave can be started")
            self.waiting.wake_all()
            return
        bundle = self.registry.bundle(digest)
        worker.loading.add(function)
        try:
            call = self.pool.call(worker)
            timings = await load_function(call, self.trust, function, digest, bundle)
        except (ChannelError, VeilError) as exc:  # refused by the enclave, or by the KMS
            error = edge.rebuild(exc.name) if isinstance(exc, ChannelError) else exc
            self._cold_errors[function] = error
            self.events.emit("cold_start_refused", function=function, error=type(error).__name__)
            self.metrics.errors.labels("cold_start_refused").inc()
        except (ChannelClosed, TimeoutError):
            self.pool.lost(worker, "died while loading a function")
        except OSError:  # the KMS did not answer: no enclave can get this function's keys
            self._cold_errors[function] = NoCapacity("the KMS is unreachable")
        else:
            worker.functions.add(function)
            self._cold_started(function, worker, time.perf_counter() - start, timings)
        finally:
            worker.loading.discard(function)
            self.pool.background(self.pool.replenish())
            self.pool.changed()

    def _cold_started(
        self, function: str, worker: WorkerHandle, elapsed: float, timings: dict[str, float]
    ) -> None:
        self.metrics.cold_starts.labels(function).inc()
        self.metrics.cold_start_seconds.observe(elapsed)
        parts = {k: round(v, 2) for k, v in timings.items()}
        ms = round(elapsed * 1000, 2)
        self.events.emit("cold_start", function=function, enclave=worker.id, ms=ms, **parts)

    @property
    def queued(self) -> int:
        """Requests waiting for an enclave with room."""
        return self.waiting.queued

    def load(self) -> dict[str, int]:
        return {
            "enclaves": len(self.workers),
            "inflight": sum(w.inflight for w in self.workers.values()),
            "queued": self.queued,
        }

    def enclaves(self) -> list[dict[str, Any]]:
        return [
            {
                "id": w.id,
                "pid": w.process.pid,
                "state": w.state,
                "tee": w.info.get("tee"),
                "key_id": w.info.get("key_id", b"").hex(),
                "functions": sorted(w.functions),
                "inflight": w.inflight,
                "attestation": w.info.get("attestation"),
            }
            for w in self.workers.values()
        ]

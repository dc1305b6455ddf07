"""The dispatcher: a pool of enclave workers, stem cells, warm pools, scaling, retries.

- Stem cells: workers started and attested ahead of need, with no function
  loaded, so a function's cold start is only key release + load + init.
- Warm pool per function: workers that hold its keys; a request goes to the
  least loaded one below the per-enclave concurrency limit.
- Scale up: when every warm worker of a function is full, one more is made
  warm (a stem cell, a new worker, or another function's worker).
- Scale down: workers idle longer than `idle_timeout_s` are stopped.
- A worker that dies mid-request is replaced and the request retried once
  on another enclave (requests are idempotent by request id), else answered
  with `WorkerDied`; nothing waits forever: every wait is bounded by the
  request deadline and the queue by `max_queue`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import itertools
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cbor2

from veil.host.events import EventLog
from veil.host.ipc import Channel, ChannelClosed, ChannelError
from veil.host.metrics import Metrics
from veil.host.provision import attest_enclave, load_function
from veil.host.registry import Registry
from veil.host.transport import (
    DeadlineExceeded,
    FunctionNotDeployed,
    NoCapacity,
    Overloaded,
    WorkerDied,
)
from veil.host.trust import TrustServices
from veil.trusted import edge
from veil.trusted.errors import VeilError


@dataclass
class PoolConfig:
    stem_cells: int = 1
    max_workers: int = max(2, os.cpu_count() or 2)
    enclave_concurrency: int = 8
    idle_timeout_s: float = 300.0
    max_queue: int = 1024
    spawn_timeout_s: float = 60.0


@dataclass
class WorkerHandle:
    id: int
    process: asyncio.subprocess.Process
    channel: Channel
    info: dict[str, Any] = field(default_factory=dict)
    functions: set[str] = field(default_factory=set)
    loading: set[str] = field(default_factory=set)
    last_used: float = field(default_factory=time.monotonic)
    dead: bool = False

    @property
    def inflight(self) -> int:
        return self.channel.inflight

    @property
    def state(self) -> str:
        return "dead" if self.dead else ("warm" if self.functions or self.loading else "stem")


class Dispatcher:
    def __init__(
        self,
        registry: Registry,
        trust: TrustServices,
        sim_key: Path,
        config: PoolConfig | None = None,
        events: EventLog | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.registry = registry
        self.trust = trust
        self._kms_key: str | None = None
        self.sim_key = sim_key
        self.config = config or PoolConfig()
        self.events = events or EventLog()
        self.metrics = metrics or Metrics()
        self.workers: dict[int, WorkerHandle] = {}
        self._ids = itertools.count(1)
        self._waiters: dict[str, collections.deque[asyncio.Future[None]]] = {}
        """Requests waiting for an enclave, by function, oldest first."""
        self._spawning = 0
        self._waiting = 0
        self._cold: dict[str, asyncio.Task[None]] = {}
        self._cold_errors: dict[str, Exception] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reaper: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn() for _ in range(self.config.stem_cells)))
        self._reaper = asyncio.create_task(self._reap_idle())

    async def stop(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
        for task in list(self._tasks):
            task.cancel()
        for worker in list(self.workers.values()):
            await self._retire(worker, reason="shutdown")

    def _background(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _call(self, worker: WorkerHandle) -> Any:
        """`async (op, arg) -> bytes` to one worker, bounded by the spawn timeout."""
        return functools.partial(worker.channel.call, timeout=self.config.spawn_timeout_s)

    async def _spawn(self) -> WorkerHandle | None:
        """Start an enclave process (`python -m veil.trusted`), attest it, relaying for it."""
        self._spawning += 1
        parent, child = socket.socketpair()
        process = None
        try:
            if self._kms_key is None:  # the KMS key the enclave will bind into its evidence
                self._kms_key = (await asyncio.to_thread(lambda: self.trust.public_key)).raw.hex()
            process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "veil.trusted", "--fd", str(child.fileno())),
                *("--sim-key", str(self.sim_key), "--kms-key", self._kms_key),
                pass_fds=(child.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
            )
            child.close()
            worker = WorkerHandle(next(self._ids), process, await Channel.connect(parent))
            await attest_enclave(self._call(worker), self.trust)
            worker.info = cbor2.loads(await self._call(worker)("info", b""))
        except (ChannelClosed, ChannelError, TimeoutError, OSError, VeilError) as exc:
            child.close()
            parent.close()
            if process is not None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            self.events.emit("enclave_start_failed", error=type(exc).__name__)
            self.metrics.errors.labels("enclave_start_failed").inc()
            return None
        finally:
            self._spawning -= 1
        self.workers[worker.id] = worker
        self._background(self._watch(worker))
        self.events.emit(
            "enclave_started",
            enclave=worker.id,
            pid=process.pid,
            tee=worker.info["tee"],
            key_id=worker.info["key_id"].hex()[:16],
        )
        self._update_pool_gauge()
        await self._notify()
        return worker

    async def _watch(self, worker: WorkerHandle) -> None:
        await worker.process.wait()
        if not worker.dead:
            await self._lost(worker, f"exited with status {worker.process.returncode}")

    async def _lost(self, worker: WorkerHandle, reason: str) -> None:
        if worker.dead:
            return
        worker.dead = True
        self.workers.pop(worker.id, None)
        worker.channel.close()
        with contextlib.suppress(ProcessLookupError):
            worker.process.kill()
        self.events.emit("enclave_died", enclave=worker.id, reason=reason)
        self.metrics.errors.labels("enclave_died").inc()
        self._update_pool_gauge()
        self._background(self._replenish())
        await self._notify()

    async def _retire(self, worker: WorkerHandle, reason: str) -> None:
        worker.dead = True
        self.workers.pop(worker.id, None)
        worker.channel.close()
        with contextlib.suppress(ProcessLookupError):
            worker.process.terminate()
        with contextlib.suppress(TimeoutError, ProcessLookupError):
            await asyncio.wait_for(worker.process.wait(), 5)
        with contextlib.suppress(ProcessLookupError):
            worker.process.kill()
        self.events.emit("enclave_stopped", enclave=worker.id, reason=reason)
        self._update_pool_gauge()

    async def _replenish(self) -> None:
        """Keep `stem_cells` blank attested enclaves ready, within `max_workers`."""
        while (
            sum(1 for w in self.workers.values() if w.state == "stem") + self._spawning
            < self.config.stem_cells
            and len(self.workers) + self._spawning < self.config.max_workers
        ):
            if await self._spawn() is None:
                return

    async def _reap_idle(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.config.idle_timeout_s / 2))
            now = time.monotonic()
            for worker in list(self.workers.values()):
                idle = now - worker.last_used > self.config.idle_timeout_s
                if worker.state == "warm" and idle and worker.inflight == 0 and not worker.loading:
                    await self._retire(worker, reason="idle")
                    self._background(self._replenish())

    async def _notify(self) -> None:
        """Something changed (an enclave came, went, or loaded a function): wake every waiter."""
        for queue in self._waiters.values():
            for waiter in queue:
                if not waiter.done():
                    waiter.set_result(None)
            queue.clear()

    def _slot_freed(self, worker: WorkerHandle) -> None:
        """One call on `worker` ended: wake the oldest request that can use its free slot.

        Waking one, not all: with many requests queued, waking every one of
        them on every completion costs the gateway more than the request.
        Nothing is lost if the woken one finds the slot taken by a new
        arrival: that arrival's own completion wakes the next.
        """
        for function in worker.functions:
            queue = self._waiters.get(function)
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return

    def _update_pool_gauge(self) -> None:
        for state in ("stem", "warm"):
            self.metrics.pool.labels(state).set(
                sum(1 for w in self.workers.values() if w.state == state)
            )

    # -- serving ---------------------------------------------------------

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
                await self._lost(worker, "channel closed mid-request")
                if attempt == 2 or time.monotonic() >= deadline:
                    raise WorkerDied("the enclave serving this request died") from None
                self.events.emit("request_retried", function=function)
                continue
            except TimeoutError:
                raise DeadlineExceeded("deadline passed while the enclave was working") from None
            except ChannelError as exc:
                raise edge.rebuild(exc.name) from None
            finally:
                self._slot_freed(worker)
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
            if self._waiting >= self.config.max_queue:
                self.metrics.errors.labels("overloaded").inc()
                raise Overloaded("too many requests queued")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DeadlineExceeded("no enclave became free before the deadline")
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            queue = self._waiters.setdefault(function, collections.deque())
            queue.append(waiter)
            self._waiting += 1
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                raise DeadlineExceeded("no enclave became free before the deadline") from None
            finally:
                self._waiting -= 1
                if not waiter.done() or waiter.cancelled():  # not woken: leave the queue
                    waiter.cancel()
                    with contextlib.suppress(ValueError):
                        queue.remove(waiter)

    def _start_cold(self, function: str) -> None:
        entry = self.registry.get(function)
        if entry is None:
            raise FunctionNotDeployed(f"function {function!r} is not deployed")
        task = asyncio.create_task(self._cold_start(function, entry.digest))
        self._cold[function] = task
        task.add_done_callback(lambda _t: self._cold.pop(function, None))

    async def _host_for(self, function: str) -> WorkerHandle | None:
        """A stem cell, else a new worker, else the least loaded worker without this function."""
        stems = [w for w in self.workers.values() if w.state == "stem"]
        if stems:
            return stems[0]
        if len(self.workers) + self._spawning < self.config.max_workers:
            worker = await self._spawn()
            if worker is not None:
                return worker
        others = [w for w in self.workers.values() if function not in w.functions]
        return min(others, key=lambda w: w.inflight) if others else None

    async def _cold_start(self, function: str, digest: bytes) -> None:
        start = time.perf_counter()
        worker = await self._host_for(function)
        if worker is None:
            if not any(function in w.functions for w in self.workers.values()):
                self._cold_errors[function] = NoCapacity("no enclave can be started")
            await self._notify()
            return
        bundle = self.registry.bundle(digest)
        worker.loading.add(function)
        try:
            timings = await load_function(self._call(worker), self.trust, function, digest, bundle)
        except (ChannelError, VeilError) as exc:  # refused by the enclave, or by the KMS
            error = edge.rebuild(exc.name) if isinstance(exc, ChannelError) else exc
            self._cold_errors[function] = error
            self.events.emit("cold_start_refused", function=function, error=type(error).__name__)
            self.metrics.errors.labels("cold_start_refused").inc()
        except (ChannelClosed, TimeoutError):
            await self._lost(worker, "died while loading a function")
        except OSError:  # the KMS did not answer: no enclave can get this function's keys
            self._cold_errors[function] = NoCapacity("the KMS is unreachable")
        else:
            worker.functions.add(function)
            elapsed = time.perf_counter() - start
            self.metrics.cold_starts.labels(function).inc()
            self.metrics.cold_start_seconds.observe(elapsed)
            parts = {k: round(v, 2) for k, v in timings.items()}
            self.events.emit(
                "cold_start",
                function=function,
                enclave=worker.id,
                ms=round(elapsed * 1000, 2),
                **parts,
            )
        finally:
            worker.loading.discard(function)
            self._update_pool_gauge()
            self._background(self._replenish())
            await self._notify()

    @property
    def queued(self) -> int:
        """Requests waiting for an enclave with room."""
        return self._waiting

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

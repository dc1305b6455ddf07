"""The dispatcher: which enclaves a function's clients are offered, routing, cold starts.

- A request names the one enclave it is for (its key id, bound into the
  sealed envelope), and goes there or nowhere: to the worker with that key
  id, below the per-enclave concurrency limit, else it waits in the
  `WaitQueue` under (function, enclave), in arrival order, bounded by its
  deadline, the queue-time limit `max_wait_s` and `max_queue`. A request
  never overtakes one of its key that is already waiting; a freed slot
  wakes one waiter, a pool change as many as it freed slots. No live worker
  with that key id: `UnknownEnclave`, at once.
- An attested enclave named for a function it does not hold yet loads it
  first (key release, bundle, install); the request waits for that.
- Scale up is in what clients are offered (`recommend`): a function's warm
  enclaves, and when every one of them is full, one more (a stem cell, a
  new worker if the pool can grow, or another function's worker).
- A worker that dies mid-request is replaced; the request is answered with
  `WorkerDied`, never run on another enclave (the one it named may have run
  it): the client seals it again, with a new request id.
- Versions: a deploy takes warm workers of an older version out of the warm
  set (`deployed`), so the enclaves named next load the new one. An enclave
  that refuses a request as `StaleVersion` while the registry has a newer
  version than it holds loads that version and the request is retried once
  on it; one whose grant expired (`GrantExpired`) is given a fresh grant
  (key request -> release -> install; the same version only extends it) and
  the request retried once on it. Both retries are the same envelope on the
  same enclave, so its replay window still lets it run at most once.
- Pinned versions (`NAME@N`) are functions of their own here: the registry
  keeps their bundles by version. A removal (`removed`) stops the enclaves
  that hold the function in any version.
- An enclave that refuses for its clock (`ClockNotAnchored`, `ClockDrift`)
  is re-anchored to the KMS's time and the request retried once.

The processes themselves are the `WorkerPool`'s (`host.pool`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

from veil.host.events import EventLog
from veil.host.ipc import ChannelClosed, ChannelError, rebuild
from veil.host.metrics import Metrics
from veil.host.pool import PoolConfig, WorkerHandle, WorkerPool
from veil.host.provision import load_function
from veil.host.registry import Entry, Registry
from veil.host.transport import (
    DeadlineExceeded,
    DispatchError,
    FunctionNotDeployed,
    KmsUnavailable,
    NoCapacity,
    Overloaded,
    StorageUnavailable,
    UnknownEnclave,
    WorkerDied,
)
from veil.host.trust import TrustServices
from veil.host.waiting import WaitQueue
from veil.registration import split_pinned
from veil.trusted.clock import ClockDrift, ClockNotAnchored
from veil.trusted.errors import MalformedMessage, NotFound, Refused, VeilError

KMS_DOWN_S = 10.0
"""How long a failed KMS call makes the gateway report itself not ready (unless one succeeds)."""

Key = tuple[str, bytes]
"""What a request waits for: its function on the enclave it names (key id)."""


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
        self.waiting: WaitQueue[Key] = WaitQueue(self.config.max_queue, self.config.max_wait_s)
        self.pool = WorkerPool(
            trust, sim_key, self.config, self.events, self.metrics, self._pool_changed
        )
        self._cold: set[asyncio.Task[None]] = set()
        self._renewing: dict[tuple[int, str], asyncio.Task[bool]] = {}
        self.cold_start_attempts = 0
        self.kms_ok_at = self.kms_failed_at = 0.0
        """When a cold start last reached the KMS, and last failed to (monotonic)."""

    @property
    def workers(self) -> dict[int, WorkerHandle]:
        return self.pool.workers

    async def start(self) -> None:
        await self.pool.start()

    async def stop(self) -> None:
        """Cancel cold starts and grant renewals under way, then stop the pool."""
        cold = [*self._cold, *self._renewing.values()]
        for task in cold:
            task.cancel()
        await asyncio.gather(*cold, return_exceptions=True)
        await self.pool.stop()

    async def invoke(
        self, function: str, enclave: bytes, envelope: bytes, deadline: float
    ) -> bytes:
        """Serve one sealed request on the enclave it names, or fail: never on another.

        A refusal the host can mend on that same enclave (a newer version to
        load, an expired grant to renew) is retried once there, the same envelope.
        """
        for attempt in (1, 2):
            worker = await self._acquire(function, enclave, deadline)
            worker.last_used = time.monotonic()
            try:
                reply = await worker.channel.call(
                    "invoke", envelope, timeout=max(0.001, deadline - time.monotonic())
                )
            except ChannelClosed:
                self.pool.lost(worker, "channel closed mid-request")
                raise WorkerDied("the enclave serving this request died") from None
            except TimeoutError:
                raise DeadlineExceeded("deadline passed while the enclave was working") from None
            except ChannelError as exc:
                error = rebuild(exc.name)
                if attempt == 2:
                    raise error from None
                if isinstance(error, ClockNotAnchored | ClockDrift):
                    await self._reanchor(worker, error)
                elif not await self._recovered(worker, function, exc.name):
                    raise error from None
            else:
                self.metrics.rewinds.inc()
                return reply
            finally:
                self.waiting.wake_one([(f, enclave) for f in worker.functions])
        raise AssertionError("unreachable")

    def deployed(self, function: str, version: int) -> None:
        """Warm workers of an older version get no more of its requests (in-flight ones finish)."""
        for worker in [w for w in self.workers.values() if function in w.functions]:
            if worker.versions.get(function, 0) < version:
                worker.functions.discard(function)
        self.pool.changed()

    def removed(self, function: str) -> None:
        """Stop the enclaves that hold `function` or a pinned version of it (`function@N`):
        their memory holds its keys. Other functions they held cold-start elsewhere."""
        for worker in list(self.workers.values()):
            if any(split_pinned(f)[0] == function for f in worker.functions | worker.loading):
                worker.functions.clear()
                self.pool.background(self._retire(worker))
        self.pool.changed()

    async def _retire(self, worker: WorkerHandle) -> None:
        await self.pool.retire(worker, reason="function removed")
        await self.pool.replenish()

    async def _recovered(self, worker: WorkerHandle, function: str, refusal: str) -> bool:
        """Whether the host fixed what the enclave refused, so that one retry may succeed."""
        if refusal == "GrantExpired":
            key = (worker.id, function)
            if key not in self._renewing:  # one renewal per worker, however many requests wait
                task = asyncio.create_task(self._renew(worker, function))
                self._renewing[key] = task
                task.add_done_callback(lambda _t: self._renewing.pop(key, None))
            return await asyncio.shield(self._renewing[key])
        if refusal != "StaleVersion":
            return False
        try:
            entry = self.registry.get(function)
        except sqlite3.Error:
            return False
        if entry is None or worker.versions.get(function, 0) >= entry.version:
            return False  # the request is the stale one: the client re-seals to a fresh record
        self.deployed(function, entry.version)
        return True

    async def _renew(self, worker: WorkerHandle, function: str) -> bool:
        """Relay a fresh grant to `worker` for the registry's version of `function`."""
        try:
            entry = self.registry.get(function)
            bundle = (
                None if entry is None else self.registry.function_bundle(function, entry.digest)
            )
            if entry is None or bundle is None:
                return False
            call = self.pool.call(worker, self.pool.config.load_timeout_s)
            await load_function(call, self.trust, function, entry.digest, bundle)
        except (ChannelError, ChannelClosed, TimeoutError, OSError, VeilError, sqlite3.Error):
            return False
        worker.versions[function] = entry.version
        self.events.emit("grant_renewed", function=function, enclave=worker.id)
        return True

    async def refresh(self, function: str) -> int:
        """A fresh grant (so the KMS's current secrets) for every warm enclave of `function`."""
        warm = [w for w in self.workers.values() if function in w.functions]
        renewed = await asyncio.gather(*(self._renew(w, function) for w in warm))
        return sum(renewed)

    async def _reanchor(self, worker: WorkerHandle, error: VeilError) -> None:
        """A fresh KMS time anchor for `worker`, or `error` (the clock refusal) stands."""
        self.events.emit("clock_reanchored", enclave=worker.id, error=type(error).__name__)
        try:
            await self.pool.anchor(worker)
        except OSError:  # RemoteTrust's ServiceUnavailable: the KMS did not answer
            self.kms_failed_at = time.monotonic()
            raise KmsUnavailable("the key service is unavailable") from None
        except (ChannelClosed, ChannelError, TimeoutError, VeilError):
            raise error from None

    async def _acquire(self, function: str, enclave: bytes, deadline: float) -> WorkerHandle:
        key: Key = (function, enclave)
        woken = False
        while True:
            worker = self.pool.named(enclave)
            if worker is None:
                self.metrics.errors.labels("unknown_enclave").inc()
                raise UnknownEnclave("no live enclave has the key id this request names")
            if function in worker.functions:
                limit = self.config.enclave_concurrency
                if (woken or not self.waiting.has_waiters(key)) and worker.inflight < limit:
                    return worker
            elif function not in worker.loading:
                self._start_cold(function, worker)
            try:
                await self.waiting.wait(key, deadline, front=woken)
            except Overloaded:
                self.metrics.errors.labels("overloaded").inc()
                raise
            woken = True

    async def recommend(self, function: str) -> list[dict[str, Any]]:
        """The enclaves to offer `function`'s clients: the ones that hold it or are loading
        it, and when all of those are full, a spare (`WorkerPool.spare_for`)."""
        self._entry(function)
        mine = [w for w in self.workers.values() if function in w.functions | w.loading]
        if all(self._full(function, w) for w in mine):
            spare = await self.pool.spare_for(function)
            if spare is not None and spare not in mine:
                mine.append(spare)
        if not mine:
            raise NoCapacity("no enclave can be started")
        return [{"key_id": w.key_id.hex(), "warm": function in w.functions} for w in mine]

    def _full(self, function: str, worker: WorkerHandle) -> bool:
        waiting = self.waiting.waiting_for((function, worker.key_id))
        return worker.inflight + waiting >= self.config.enclave_concurrency

    def _pool_changed(self) -> None:
        """Wake as many waiters of each (function, enclave) as that enclave has free slots for;
        fail the waits for an enclave that left the pool."""
        limit = self.config.enclave_concurrency
        for key in self.waiting.waiting_keys():
            function, enclave = key
            worker = self.pool.named(enclave)
            if worker is None:
                self.waiting.fail(key, UnknownEnclave("the enclave this request names is gone"))
            elif function in worker.functions:
                free = max(0, limit - worker.inflight)
                self.waiting.wake(key, free - self.waiting.claimed(key))

    def _entry(self, function: str) -> Entry:
        try:
            entry = self.registry.get(function)
        except sqlite3.Error:
            self.metrics.errors.labels("storage_unavailable").inc()
            raise StorageUnavailable("the function registry is unavailable") from None
        if entry is None:
            raise FunctionNotDeployed(f"function {function!r} is not deployed")
        return entry

    def _start_cold(self, function: str, worker: WorkerHandle) -> None:
        """Load `function` into `worker`, the enclave a request named; its requests wait."""
        entry = self._entry(function)
        self.cold_start_attempts += 1
        self.metrics.cold_start_attempts.inc()
        worker.loading.add(function)
        task = asyncio.create_task(self._cold_start(function, worker, entry.digest, entry.version))
        self._cold.add(task)
        task.add_done_callback(self._cold.discard)

    async def _cold_start(
        self, function: str, worker: WorkerHandle, digest: bytes, version: int
    ) -> None:
        start = time.perf_counter()
        key = (function, worker.key_id)
        try:
            bundle = self.registry.function_bundle(function, digest)
            call = self.pool.call(worker, self.pool.config.load_timeout_s)
            timings = await load_function(call, self.trust, function, digest, bundle)
        except (ChannelError, VeilError) as exc:  # refused by the enclave, or by the KMS
            self._cold_refused(key, exc)
        except (ChannelClosed, TimeoutError):
            self.pool.lost(worker, "died while loading a function")
        except OSError:  # the KMS did not answer: no enclave can get this function's keys
            self._cold_failed(key, KmsUnavailable("the key service is unavailable"))
        except sqlite3.Error:
            self._cold_failed(key, StorageUnavailable("the function registry is unavailable"))
        else:
            self.kms_ok_at = time.monotonic()
            worker.versions[function] = version
            worker.functions.add(function)
            self._cold_started(function, worker, time.perf_counter() - start, timings)
        finally:
            worker.loading.discard(function)
            self.pool.background(self.pool.replenish())
            self.pool.changed()

    def _cold_refused(self, key: Key, exc: ChannelError | VeilError) -> None:
        error = rebuild(exc.name) if isinstance(exc, ChannelError) else exc
        if not isinstance(error, MalformedMessage | NotFound | Refused):  # failed, not refused
            self._cold_failed(key, KmsUnavailable("the key service is unavailable"))
            return
        self.events.emit("cold_start_refused", function=key[0], error=type(error).__name__)
        self.metrics.errors.labels("cold_start_refused").inc()
        self.waiting.fail(key, error)

    def _cold_failed(self, key: Key, error: DispatchError) -> None:
        """A dependency failed: the waiters get `error` (503); the next request tries again."""
        if isinstance(error, KmsUnavailable):
            self.kms_failed_at = time.monotonic()
        self.events.emit("cold_start_failed", function=key[0], error=type(error).__name__)
        self.metrics.errors.labels(type(error).__name__).inc()
        self.waiting.fail(key, error)

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

    def readiness(self) -> dict[str, bool]:
        """Whether new work can be taken: enclaves to be had, room in the queue, the KMS there.

        The KMS counts as reachable unless a cold start failed to reach it
        in the last `KMS_DOWN_S` seconds and none has reached it since.
        """
        now = time.monotonic()
        kms_down = self.kms_failed_at > self.kms_ok_at and now - self.kms_failed_at < KMS_DOWN_S
        return {
            "enclaves": bool(self.workers) or self.pool.can_grow,
            "queue": self.waiting.queued < self.waiting.max_queue,
            "kms": not kms_down,
        }

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

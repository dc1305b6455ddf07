"""The worker pool: enclave processes, started, attested, watched, replaced and retired.

- Stem cells: workers started and attested ahead of need, with no function
  loaded, so a function's cold start is only key release + load + init.
- Scale down: warm workers idle longer than `idle_timeout_s` are stopped,
  and `stem_cells` blank ones are kept, within `max_workers`.
- A worker that exits is noticed at once and replaced.
- Clocks: every `anchor_every_s` each worker's clock gets a fresh KMS time
  anchor (an enclave refuses to serve 60 s of its local time after the last).

Each worker is `python -m veil.trusted`, the measured enclave code and
nothing else; the pool relays its attestation (`host.provision`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cbor2

from veil.host.events import EventLog
from veil.host.ipc import Channel, ChannelClosed, ChannelError
from veil.host.metrics import Metrics
from veil.host.provision import Call, anchor_clock, attest_enclave
from veil.host.trust import TrustServices
from veil.trusted.errors import VeilError

RETIRE_GRACE_S = 5.0
"""How long a retired worker has to exit after SIGTERM before it is killed."""


async def _abandon(
    process: asyncio.subprocess.Process | None,
    channel: Channel | None,
    parent: socket.socket,
    child: socket.socket,
) -> None:
    """Undo a spawn that did not finish: close the channel or both socket ends, kill and reap."""
    child.close()
    if channel is not None:
        channel.close()
    else:
        parent.close()
    if process is not None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


def _named(exc: Exception) -> str:
    """The refusal an enclave answered with, else the exception's own class."""
    return exc.name if isinstance(exc, ChannelError) else type(exc).__name__


@dataclass
class PoolConfig:
    stem_cells: int = 1
    max_workers: int = max(2, os.cpu_count() or 2)
    enclave_concurrency: int = 8
    idle_timeout_s: float = 300.0
    max_queue: int = 1024
    max_wait_s: float = 10.0
    """The longest any request waits in the queue for an enclave slot (then 503, QueueTimeout)."""
    spawn_timeout_s: float = 60.0
    load_timeout_s: float = 300.0
    """How long a cold load (key release, code opened and compiled) may take before the worker
    is taken for stuck: a large Python component compiles for tens of seconds on a loaded
    machine, so this is the longest deadline a request may carry, not the spawn timeout."""
    anchor_every_s: float = 20.0
    """How often each worker's clock is re-anchored to the KMS's time (`veil.trusted.clock`)."""


@dataclass
class WorkerHandle:
    id: int
    process: asyncio.subprocess.Process
    channel: Channel
    info: dict[str, Any] = field(default_factory=dict)
    functions: set[str] = field(default_factory=set)
    loading: set[str] = field(default_factory=set)
    versions: dict[str, int] = field(default_factory=dict)
    """The version of each function the enclave was last given (the dispatcher keeps it)."""
    last_used: float = field(default_factory=time.monotonic)
    dead: bool = False
    anchors: int = 0
    """Clock anchors renewed since attestation (which anchors it first)."""
    anchor_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """One anchor at a time: each asks the enclave for a nonce that replaces the last."""

    @property
    def inflight(self) -> int:
        return self.channel.inflight

    @property
    def key_id(self) -> bytes:
        """The enclave's signing key id, which requests name to be served here."""
        key_id: bytes = self.info["key_id"]
        return key_id

    @property
    def state(self) -> str:
        return "dead" if self.dead else ("warm" if self.functions or self.loading else "stem")


class WorkerPool:
    """Owns the worker processes and their channels; calls `on_change` when the pool changes.

    It decides nothing about requests: which worker serves what is the
    dispatcher's business.
    """

    def __init__(
        self,
        trust: TrustServices,
        sim_key: Path,
        config: PoolConfig,
        events: EventLog,
        metrics: Metrics,
        on_change: Callable[[], None],
    ) -> None:
        self.trust, self.sim_key, self.config = trust, sim_key, config
        self.events, self.metrics, self.on_change = events, metrics, on_change
        self.workers: dict[int, WorkerHandle] = {}
        self._by_key: dict[bytes, WorkerHandle] = {}
        self.spawning = 0
        self._growing: asyncio.Task[WorkerHandle | None] | None = None
        self._kms_key: str | None = None
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await asyncio.gather(*(self.spawn() for _ in range(self.config.stem_cells)))
        self._loops = [
            asyncio.create_task(self._reap_idle()),
            asyncio.create_task(self._refresh_anchors()),
        ]

    async def stop(self) -> None:
        """Cancel the pool's loops and background work and wait for them (a cancelled spawn
        reaps its own process), then retire every worker."""
        tasks = [*self._loops, *self._tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for worker in list(self.workers.values()):
            await self.retire(worker, reason="shutdown")

    def background(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def named(self, key_id: bytes) -> WorkerHandle | None:
        """The live worker whose enclave has signing key id `key_id`, if any."""
        return self._by_key.get(key_id)

    def call(self, worker: WorkerHandle, timeout_s: float | None = None) -> Call:
        """`async (op, arg) -> bytes` to one worker, bounded by `timeout_s` (else the spawn
        timeout)."""
        timeout = self.config.spawn_timeout_s if timeout_s is None else timeout_s
        return functools.partial(worker.channel.call, timeout=timeout)

    @property
    def can_grow(self) -> bool:
        return len(self.workers) + self.spawning < self.config.max_workers

    async def spawn(self) -> WorkerHandle | None:
        """Start an enclave process (`python -m veil.trusted`), attest it, relaying for it."""
        self.spawning += 1
        parent, child = socket.socketpair()
        process, channel = None, None
        try:
            if self._kms_key is None:  # the KMS key the enclave will bind into its evidence
                self._kms_key = (await asyncio.to_thread(lambda: self.trust.public_key)).raw.hex()
            process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "veil.trusted", "--fd", str(child.fileno())),
                *("--sim-key", str(self.sim_key), "--kms-key", self._kms_key),
                pass_fds=(child.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C at the terminal is the host's to handle
            )
            child.close()
            channel = await Channel.connect(parent)
            worker = WorkerHandle(next(self._ids), process, channel)
            await attest_enclave(self.call(worker), self.trust)
            worker.info = cbor2.loads(await self.call(worker)("info", b""))
        except (ChannelClosed, ChannelError, TimeoutError, OSError, VeilError) as exc:
            await _abandon(process, channel, parent, child)
            self.events.emit("enclave_start_failed", error=type(exc).__name__)
            self.metrics.errors.labels("enclave_start_failed").inc()
            return None
        except asyncio.CancelledError:  # the pool is stopping: leave no process behind
            await _abandon(process, channel, parent, child)
            raise
        finally:
            self.spawning -= 1
        self.workers[worker.id] = worker
        self._by_key[worker.key_id] = worker
        self.background(self._watch(worker))
        info = worker.info
        key_id = info["key_id"].hex()[:16]
        self.events.emit(
            "enclave_started", enclave=worker.id, pid=process.pid, tee=info["tee"], key_id=key_id
        )
        self.changed()
        return worker

    def changed(self) -> None:
        for state in ("stem", "warm"):
            count = sum(1 for w in self.workers.values() if w.state == state)
            self.metrics.pool.labels(state).set(count)
        self.on_change()

    async def _watch(self, worker: WorkerHandle) -> None:
        await worker.process.wait()
        if not worker.dead:
            self.lost(worker, f"exited with status {worker.process.returncode}")

    def lost(self, worker: WorkerHandle, reason: str) -> None:
        """`worker` died or broke its channel: drop it, kill what is left, replace it."""
        if worker.dead:
            return
        worker.dead = True
        self.workers.pop(worker.id, None)
        self._by_key.pop(worker.key_id, None)
        worker.channel.close()
        with contextlib.suppress(ProcessLookupError):
            worker.process.kill()
        self.events.emit("enclave_died", enclave=worker.id, reason=reason)
        self.metrics.errors.labels("enclave_died").inc()
        self.background(self.replenish())
        self.changed()

    async def retire(self, worker: WorkerHandle, reason: str) -> None:
        """Stop `worker` on purpose: SIGTERM, a grace period, then SIGKILL; always reaped."""
        worker.dead = True
        self.workers.pop(worker.id, None)
        self._by_key.pop(worker.key_id, None)
        worker.channel.close()
        with contextlib.suppress(ProcessLookupError):
            worker.process.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(worker.process.wait(), RETIRE_GRACE_S)
        with contextlib.suppress(ProcessLookupError):
            worker.process.kill()
        await worker.process.wait()
        self.events.emit("enclave_stopped", enclave=worker.id, reason=reason)
        self.changed()

    async def replenish(self) -> None:
        """Keep `stem_cells` blank attested enclaves ready, within `max_workers`."""
        while self._stems() + self.spawning < self.config.stem_cells and self.can_grow:
            if await self.grow() is None:
                return

    async def grow(self) -> WorkerHandle | None:
        """One more worker, if the pool can grow; callers that ask while one is starting
        share it (a burst of asks starts one worker, not one each)."""
        if self._growing is None or self._growing.done():
            if not self.can_grow:
                return None
            self._growing = self.background(self.spawn())
        worker: WorkerHandle | None = await asyncio.shield(self._growing)
        return worker if worker is not None and not worker.dead else None

    def _stems(self) -> int:
        return sum(1 for w in self.workers.values() if w.state == "stem")

    async def spare_for(self, function: str) -> WorkerHandle | None:
        """A stem cell, else a new worker (`grow`), else the least loaded worker without
        this function."""
        stems = [w for w in self.workers.values() if w.state == "stem"]
        if stems:
            return stems[0]
        worker = await self.grow()
        if worker is not None:
            return worker
        others = [w for w in self.workers.values() if function not in w.functions | w.loading]
        return min(others, key=lambda w: w.inflight) if others else None

    async def anchor(self, worker: WorkerHandle) -> None:
        """A fresh KMS time anchor for `worker`'s clock."""
        async with worker.anchor_lock:
            await anchor_clock(self.call(worker), self.trust)
            worker.anchors += 1

    async def _refresh_anchors(self) -> None:
        """Re-anchor every worker each `anchor_every_s`; a worker that fails is only reported
        (it refuses with `ClockNotAnchored` later, and the dispatcher tries once more then)."""
        while True:
            await asyncio.sleep(self.config.anchor_every_s)
            workers = [w for w in self.workers.values() if not w.dead]
            done = await asyncio.gather(*map(self.anchor, workers), return_exceptions=True)
            for worker, result in zip(workers, done, strict=True):
                if isinstance(result, Exception):
                    self.events.emit("anchor_failed", enclave=worker.id, error=_named(result))

    async def _reap_idle(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.config.idle_timeout_s / 2))
            now = time.monotonic()
            for worker in list(self.workers.values()):
                idle = now - worker.last_used > self.config.idle_timeout_s
                if worker.state == "warm" and idle and worker.inflight == 0 and not worker.loading:
                    await self.retire(worker, reason="idle")
                    self.background(self.replenish())

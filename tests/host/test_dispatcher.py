"""The dispatcher with real enclave workers: routing to the named enclave, queueing,
deadlines, overload, what it offers clients, and no retry on another enclave.

A real KMS + verifier service and real `python -m veil.trusted` workers; no
gateway in front, so each test speaks to the scheduling it is about.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import pytest

from tests.conftest import echo_bundle, register_in, small_limits
from tests.trusted.sandbox.test_reactor import module
from veil.client.invoke import open_response, seal
from veil.client.trust import TrustAnchors
from veil.host.dispatcher import Dispatcher
from veil.host.pool import PoolConfig
from veil.host.registry import Registry
from veil.host.transport import (
    DeadlineExceeded,
    FunctionNotDeployed,
    Overloaded,
    UnknownEnclave,
    WorkerDied,
)
from veil.kms.remote import RemoteTrust
from veil.trusted.bundle import Bundle, Manifest
from veil.trusted.wire.records import FunctionRecord
from veil.wiring.embedded import EmbeddedPlatform

T = TypeVar("T")
SPIN = "acme/spin"


def spin_bundle() -> Bundle:
    limits = small_limits(fuel=10**12, timeout_ms=30_000)
    return Bundle(Manifest(SPIN, "1", limits=limits), module("spin"))


def spin_input(units: int, tag: bytes = b"") -> bytes:
    """The spin function busy-loops `units` x 10 M iterations, then echoes its input."""
    return bytes([units]) + tag


class Running:
    def __init__(
        self, dispatcher: Dispatcher, records: dict[str, FunctionRecord], anchors: TrustAnchors
    ) -> None:
        self.dispatcher, self.records, self.anchors = dispatcher, records, anchors

    async def enclave_for(self, name: str) -> bytes:
        """One of the enclaves the dispatcher recommends for `name`, as the SDK picks it."""
        offered = await self.dispatcher.recommend(name)
        return bytes.fromhex(random.choice(offered)["key_id"])

    async def invoke(
        self, name: str, data: bytes, timeout_s: float = 30.0, enclave: bytes | None = None
    ) -> bytes:
        """The function's output, its response opened and its receipt verified."""
        enclave = enclave or await self.enclave_for(name)
        request = seal(self.records[name], data, enclave=enclave, timeout_s=max(timeout_s, 1.0))
        deadline = time.monotonic() + timeout_s
        reply = await self.dispatcher.invoke(name, enclave, request.envelope, deadline)
        return open_response(request, reply, self.anchors).output

    def key_ids(self) -> list[bytes]:
        return [w.key_id for w in self.dispatcher.workers.values()]

    def cold_starts(self) -> list[dict[str, object]]:
        return [e for e in self.dispatcher.events.since() if e["kind"] == "cold_start"]


@asynccontextmanager
async def dispatching(
    trust: EmbeddedPlatform, tmp_path: Path, **config: int
) -> AsyncIterator[Running]:
    remote = RemoteTrust(trust.trust_url)
    registry = Registry(tmp_path / "registry.sqlite3")
    records = {
        r.name: r for r in (register_in(trust, remote, registry, b) for b in (spin_bundle(),))
    }
    records["acme/echo"] = register_in(trust, remote, registry, echo_bundle())
    pool = PoolConfig(**({"stem_cells": 1, "max_workers": 1} | config))  # type: ignore[arg-type]
    dispatcher = Dispatcher(registry, remote, trust.data_dir / "sim-host.key", pool)
    await dispatcher.start()
    try:
        yield Running(dispatcher, records, trust.trust())
    finally:
        await dispatcher.stop()
        remote.close()
        registry.close()


def run(main: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(main())  # type: ignore[arg-type]


def test_requests_beyond_the_enclave_limit_wait_and_are_all_served(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> tuple[list[bytes], int, int]:
        async with dispatching(trust, tmp_path, enclave_concurrency=1) as running:
            await running.invoke(SPIN, spin_input(0))  # warm
            calls = [
                asyncio.create_task(running.invoke(SPIN, spin_input(2, b"%d" % i)))
                for i in range(4)
            ]
            peak = 0
            while not all(c.done() for c in calls):
                peak = max(peak, running.dispatcher.queued)
                await asyncio.sleep(0.002)
            return [c.result() for c in calls], peak, running.dispatcher.queued

    replies, peak, left = run(main)
    assert len(replies) == 4
    assert peak >= 1
    assert left == 0


def test_replies_open_to_their_own_requests(trust: EmbeddedPlatform, tmp_path: Path) -> None:
    async def main() -> list[bytes]:
        async with dispatching(trust, tmp_path) as running:
            record = running.records["acme/echo"]
            enclave = await running.enclave_for(record.name)
            requests = [seal(record, b"message %d" % i, enclave=enclave) for i in range(8)]
            deadline = time.monotonic() + 30
            invoke = running.dispatcher.invoke
            replies = await asyncio.gather(
                *(invoke(record.name, enclave, r.envelope, deadline) for r in requests)
            )
            anchors = trust.trust()
            return [
                open_response(q, a, anchors).output for q, a in zip(requests, replies, strict=True)
            ]

    assert run(main) == [b"message %d" % i for i in range(8)]


def test_a_waiting_request_past_its_deadline_is_refused_and_the_busy_one_still_served(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> tuple[float, bytes]:
        async with dispatching(trust, tmp_path, enclave_concurrency=1) as running:
            await running.invoke(SPIN, spin_input(0))
            busy = asyncio.create_task(running.invoke(SPIN, spin_input(200, b"busy")))  # seconds
            await asyncio.sleep(0.05)
            started = time.monotonic()
            with pytest.raises(DeadlineExceeded):
                await running.invoke(SPIN, spin_input(0), timeout_s=0.2)
            waited = time.monotonic() - started
            return waited, await busy

    waited, busy = run(main)
    assert waited < 5
    assert busy.endswith(b"busy")


def test_a_full_queue_refuses_at_once_with_overloaded(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> None:
        async with dispatching(trust, tmp_path, enclave_concurrency=1, max_queue=1) as running:
            await running.invoke(SPIN, spin_input(0))
            busy = asyncio.create_task(running.invoke(SPIN, spin_input(120)))
            await asyncio.sleep(0.05)
            queued = asyncio.create_task(running.invoke(SPIN, spin_input(0)))
            await asyncio.sleep(0.05)
            with pytest.raises(Overloaded):
                await running.invoke(SPIN, spin_input(0))
            await asyncio.gather(busy, queued)

    run(main)


def test_a_function_not_in_the_registry_is_refused_before_any_enclave_work(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> None:
        async with dispatching(trust, tmp_path) as running:
            (stem,) = running.key_ids()
            with pytest.raises(FunctionNotDeployed):
                await running.dispatcher.invoke("acme/ghost", stem, b"", time.monotonic() + 5)
            with pytest.raises(FunctionNotDeployed):
                await running.dispatcher.recommend("acme/ghost")
            assert running.cold_starts() == []

    run(main)


def test_a_request_whose_enclave_dies_is_worker_died_and_never_run_on_another(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> tuple[int, list[str]]:
        async with dispatching(trust, tmp_path, stem_cells=2, max_workers=2) as running:
            await running.invoke(SPIN, spin_input(0))
            (victim,) = [w for w in running.dispatcher.workers.values() if SPIN in w.functions]
            call = asyncio.create_task(
                running.invoke(SPIN, spin_input(200, b"dies"), enclave=victim.key_id)
            )
            await asyncio.sleep(0.3)
            os.kill(victim.process.pid, signal.SIGKILL)
            with pytest.raises(WorkerDied):
                await call
            kinds = [e["kind"] for e in running.dispatcher.events.since()]
            return len(running.cold_starts()), kinds

    cold_starts, kinds = run(main)
    assert "enclave_died" in kinds
    assert cold_starts == 1  # the other enclave never loaded the function to run it again


def test_a_request_naming_no_live_enclave_is_unknown_enclave_at_once(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> float:
        async with dispatching(trust, tmp_path) as running:
            await running.invoke("acme/echo", b"warm")
            started = time.monotonic()
            with pytest.raises(UnknownEnclave):
                await running.invoke("acme/echo", b"x", enclave=os.urandom(32))
            assert running.dispatcher.queued == 0
            return time.monotonic() - started

    assert run(main) < 1.0


def test_a_request_naming_an_attested_enclave_without_the_function_loads_it_there(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> tuple[bytes, list[object]]:
        async with dispatching(trust, tmp_path, stem_cells=2, max_workers=2) as running:
            await running.invoke("acme/echo", b"warm")
            (stem,) = [w for w in running.dispatcher.workers.values() if w.state == "stem"]
            output = await running.invoke("acme/echo", b"on the stem", enclave=stem.key_id)
            assert "acme/echo" in stem.functions
            return output, [e["detail"]["enclave"] for e in running.cold_starts()]

    output, loaded_on = run(main)
    assert output == b"on the stem"
    assert len(loaded_on) == 2 and loaded_on[0] != loaded_on[1]


def test_waiters_for_an_enclave_that_dies_are_told_unknown_enclave(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> None:
        config = {"stem_cells": 2, "max_workers": 2, "enclave_concurrency": 1}
        async with dispatching(trust, tmp_path, **config) as running:
            await running.invoke(SPIN, spin_input(0))
            (victim,) = [w for w in running.dispatcher.workers.values() if SPIN in w.functions]
            busy = asyncio.create_task(running.invoke(SPIN, spin_input(200), enclave=victim.key_id))
            await asyncio.sleep(0.1)
            queued = asyncio.create_task(running.invoke(SPIN, spin_input(0), enclave=victim.key_id))
            await asyncio.sleep(0.1)
            assert running.dispatcher.queued == 1
            os.kill(victim.process.pid, signal.SIGKILL)
            with pytest.raises(WorkerDied):
                await busy
            with pytest.raises(UnknownEnclave):
                await queued

    run(main)


def test_every_worker_is_reaped_when_the_dispatcher_stops(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> list[int]:
        async with dispatching(trust, tmp_path, stem_cells=2, max_workers=2) as running:
            await running.invoke("acme/echo", b"x")
            pids = [w.process.pid for w in running.dispatcher.workers.values()]
        return pids

    for pid in run(main):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)

"""The dispatcher with real enclave workers: queueing, deadlines, overload, retries.

A real KMS + verifier service and real `python -m veil.trusted` workers; no
gateway in front, so each test speaks to the scheduling it is about.
"""

from __future__ import annotations

import asyncio
import os
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
from veil.host.transport import DeadlineExceeded, FunctionNotDeployed, Overloaded
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

    async def invoke(self, name: str, data: bytes, timeout_s: float = 30.0) -> bytes:
        """The function's output, its response opened and its receipt verified."""
        request = seal(self.records[name], data, timeout_s=max(timeout_s, 1.0))
        deadline = time.monotonic() + timeout_s
        reply = await self.dispatcher.invoke(name, request.envelope, deadline)
        return open_response(request, reply, self.anchors).output


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
            requests = [seal(record, b"message %d" % i) for i in range(8)]
            deadline = time.monotonic() + 30
            replies = await asyncio.gather(
                *(running.dispatcher.invoke(record.name, r.envelope, deadline) for r in requests)
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
            with pytest.raises(FunctionNotDeployed):
                await running.dispatcher.invoke("acme/ghost", b"", time.monotonic() + 5)
            assert [e for e in running.dispatcher.events.since() if e["kind"] == "cold_start"] == []

    run(main)


def test_a_request_whose_enclave_dies_is_retried_once_on_another(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> tuple[bytes, list[str]]:
        async with dispatching(trust, tmp_path, max_workers=2) as running:
            await running.invoke(SPIN, spin_input(0))
            call = asyncio.create_task(running.invoke(SPIN, spin_input(200, b"survives")))
            await asyncio.sleep(0.3)
            (victim,) = [w for w in running.dispatcher.workers.values() if SPIN in w.functions]
            os.kill(victim.process.pid, signal.SIGKILL)
            reply = await call
            kinds = [e["kind"] for e in running.dispatcher.events.since()]
            return reply, kinds

    reply, kinds = run(main)
    assert reply == spin_input(200, b"survives")
    assert "enclave_died" in kinds and "request_retried" in kinds


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

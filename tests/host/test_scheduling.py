"""Scheduling under saturation, on real workers: arrival order, wake-one, bounded waits.

One enclave with one slot (`enclave_concurrency=1`, `max_workers=1`), so
every request beyond the first waits, and the order they are served in is
the order the dispatcher chose.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.host.test_dispatcher import SPIN, dispatching, run, spin_input
from veil.host.transport import DeadlineExceeded, QueueTimeout
from veil.wiring.embedded import EmbeddedPlatform


def test_waiting_requests_are_served_in_arrival_order(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> list[int]:
        async with dispatching(trust, tmp_path, enclave_concurrency=1) as running:
            await running.invoke(SPIN, spin_input(0))
            order: list[int] = []

            async def call(i: int) -> None:
                await running.invoke(SPIN, spin_input(1, b"%d" % i))
                order.append(i)

            tasks = []
            for i in range(8):
                tasks.append(asyncio.create_task(call(i)))
                await asyncio.sleep(0.01)  # arrive one after another
            await asyncio.gather(*tasks)
            return order

    assert run(main) == list(range(8))


def test_a_request_arriving_when_a_slot_is_free_does_not_overtake_queued_ones(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> list[str]:
        async with dispatching(trust, tmp_path, enclave_concurrency=1) as running:
            await running.invoke(SPIN, spin_input(0))
            order: list[str] = []

            async def call(tag: str, units: int) -> None:
                await running.invoke(SPIN, spin_input(units, tag.encode()))
                order.append(tag)

            first = asyncio.create_task(call("busy", 3))
            await asyncio.sleep(0.05)
            queued = [asyncio.create_task(call(f"q{i}", 0)) for i in range(3)]
            await first  # the slot is free now, and q0's wake-up is pending
            late = asyncio.create_task(call("late", 0))
            await asyncio.gather(*queued, late)
            return order

    assert run(main) == ["busy", "q0", "q1", "q2", "late"]


def test_each_completion_wakes_exactly_one_waiter(trust: EmbeddedPlatform, tmp_path: Path) -> None:
    async def main() -> tuple[int, int]:
        async with dispatching(trust, tmp_path, enclave_concurrency=1) as running:
            await running.invoke(SPIN, spin_input(0))
            before = running.dispatcher.waiting.wakeups
            await asyncio.gather(*(running.invoke(SPIN, spin_input(1)) for _ in range(10)))
            return running.dispatcher.waiting.wakeups - before, running.dispatcher.queued

    wakeups, left = run(main)
    assert wakeups == 9  # the first of ten runs at once, each of the others woken once
    assert left == 0


def test_no_cold_start_is_attempted_when_the_pool_is_at_its_maximum(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> int:
        async with dispatching(trust, tmp_path, enclave_concurrency=1) as running:
            await running.invoke(SPIN, spin_input(0))
            before = running.dispatcher.cold_start_attempts
            await asyncio.gather(*(running.invoke(SPIN, spin_input(1)) for _ in range(12)))
            return running.dispatcher.cold_start_attempts - before

    assert run(main) == 0


def test_a_wait_is_bounded_by_the_queue_time_limit(trust: EmbeddedPlatform, tmp_path: Path) -> None:
    async def main() -> float:
        async with dispatching(trust, tmp_path, enclave_concurrency=1) as running:
            running.dispatcher.waiting.max_wait_s = 0.2
            await running.invoke(SPIN, spin_input(0))
            busy = asyncio.create_task(running.invoke(SPIN, spin_input(120)))
            await asyncio.sleep(0.05)
            started = time.monotonic()
            with pytest.raises(QueueTimeout):
                await running.invoke(SPIN, spin_input(0), timeout_s=30)
            waited = time.monotonic() - started
            await busy
            return waited

    assert 0.15 < run(main) < 2.0


def test_a_wait_is_bounded_by_the_deadline_when_it_is_the_shorter(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> None:
        async with dispatching(trust, tmp_path, enclave_concurrency=1) as running:
            await running.invoke(SPIN, spin_input(0))
            busy = asyncio.create_task(running.invoke(SPIN, spin_input(120)))
            await asyncio.sleep(0.05)
            with pytest.raises(DeadlineExceeded):
                await running.invoke(SPIN, spin_input(0), timeout_s=0.2)
            await busy

    run(main)

"""The wait queue on its own: arrival order, wake-one, bounded waits, cancellation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from veil.host.transport import DeadlineExceeded, NoCapacity, Overloaded, QueueTimeout
from veil.host.waiting import WaitQueue

T = TypeVar("T")


def run(main: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(main())  # type: ignore[arg-type]


def later(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_woken_slot_goes_to_the_oldest_waiter_of_that_function() -> None:
    async def main() -> list[int]:
        queue, order = WaitQueue(16), []

        async def waiter(i: int) -> None:
            await queue.wait("f", later())
            order.append(i)

        tasks = [asyncio.create_task(waiter(i)) for i in range(4)]
        await settle()
        for _ in range(4):
            assert queue.wake_one(["f"])
            await settle()
        await asyncio.gather(*tasks)
        return order

    assert run(main) == [0, 1, 2, 3]


def test_wake_one_wakes_exactly_one_waiter() -> None:
    async def main() -> tuple[int, int]:
        queue = WaitQueue(16)
        tasks = [asyncio.create_task(queue.wait("f", later())) for _ in range(5)]
        await settle()
        queue.wake_one(["f"])
        await settle()
        done = sum(t.done() for t in tasks)
        left = queue.queued
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return done, left

    assert run(main) == (1, 4)


def test_wake_one_leaves_other_functions_waiting() -> None:
    async def main() -> tuple[bool, bool]:
        queue = WaitQueue(16)
        g = asyncio.create_task(queue.wait("g", later()))
        await settle()
        woke = queue.wake_one(["f"])
        await settle()
        still_waiting = not g.done()
        g.cancel()
        await asyncio.gather(g, return_exceptions=True)
        return woke, still_waiting

    assert run(main) == (False, True)


def test_a_wait_ends_at_its_deadline_with_deadline_exceeded() -> None:
    async def main() -> float:
        queue = WaitQueue(16)
        start = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            await queue.wait("f", later(0.05))
        assert queue.queued == 0
        return time.monotonic() - start

    assert run(main) < 2.0


def test_a_deadline_already_past_is_refused_without_waiting() -> None:
    async def main() -> None:
        with pytest.raises(DeadlineExceeded):
            await WaitQueue(16).wait("f", time.monotonic() - 1)

    run(main)


def test_a_full_queue_refuses_the_next_request_as_overloaded() -> None:
    async def main() -> int:
        queue = WaitQueue(2)
        tasks = [asyncio.create_task(queue.wait("f", later())) for _ in range(2)]
        await settle()
        with pytest.raises(Overloaded):
            await queue.wait("f", later())
        queued = queue.queued
        queue.wake("f", 2)
        await asyncio.gather(*tasks)
        return queued

    assert run(main) == 2


def test_a_cancelled_waiter_leaves_the_queue_and_is_not_woken() -> None:
    async def main() -> tuple[int, bool]:
        queue = WaitQueue(16)
        first = asyncio.create_task(queue.wait("f", later()))
        second = asyncio.create_task(queue.wait("f", later()))
        await settle()
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        queued = queue.queued
        assert queue.wake_one(["f"])  # goes to the second, not the cancelled first
        await asyncio.wait_for(second, 1)
        return queued, second.done()

    assert run(main) == (1, True)


def test_a_timed_out_waiter_does_not_swallow_the_next_wake_up() -> None:
    async def main() -> bool:
        queue = WaitQueue(16)
        with pytest.raises(DeadlineExceeded):
            await queue.wait("f", later(0.01))
        waiting = asyncio.create_task(queue.wait("f", later()))
        await settle()
        queue.wake_one(["f"])
        await asyncio.wait_for(waiting, 1)
        return waiting.done()

    assert run(main)


def test_a_freed_shared_enclave_goes_to_the_function_served_least_recently() -> None:
    async def main() -> list[str]:
        queue, order = WaitQueue(16), []

        async def waiter(function: str) -> None:
            await queue.wait(function, later())
            order.append(function)

        tasks = [asyncio.create_task(waiter(f)) for f in "ffffg"]
        await settle()
        for _ in range(5):
            queue.wake_one(["f", "g"])
            await settle()
        await asyncio.gather(*tasks)
        return order

    assert run(main) == ["f", "g", "f", "f", "f"]


def test_wake_n_wakes_at_most_n_and_counts_them() -> None:
    async def main() -> tuple[int, int, int]:
        queue = WaitQueue(16)
        tasks = [asyncio.create_task(queue.wait("f", later())) for _ in range(5)]
        await settle()
        woken = queue.wake("f", 3)
        claimed = queue.claimed("f")
        await settle()
        left = queue.queued
        queue.wake("f", left)  # release the rest
        await asyncio.gather(*tasks)
        return woken, claimed, left

    assert run(main) == (3, 3, 2)


def test_a_woken_request_holds_its_claim_until_it_runs() -> None:
    async def main() -> tuple[bool, bool]:
        queue = WaitQueue(16)
        task = asyncio.create_task(queue.wait("f", later()))
        await settle()
        queue.wake("f")
        held = queue.has_waiters("f")  # woken, not yet run: later arrivals queue behind it
        await task
        return held, queue.has_waiters("f")

    assert run(main) == (True, False)


def test_the_queue_time_limit_ends_a_wait_before_a_later_deadline() -> None:
    async def main() -> None:
        queue = WaitQueue(16, max_wait_s=0.05)
        with pytest.raises(QueueTimeout):
            await queue.wait("f", later(30))
        assert queue.queued == 0

    run(main)


def test_fail_ends_every_wait_of_that_function_only() -> None:
    async def main() -> tuple[int, bool]:
        queue = WaitQueue(16)
        fs = [asyncio.create_task(queue.wait("f", later())) for _ in range(3)]
        g = asyncio.create_task(queue.wait("g", later()))
        await settle()
        queue.fail("f", NoCapacity("none"))
        results = await asyncio.gather(*fs, return_exceptions=True)
        failed = sum(isinstance(r, NoCapacity) for r in results)
        still = not g.done()
        g.cancel()
        await asyncio.gather(g, return_exceptions=True)
        return failed, still

    assert run(main) == (3, True)


def test_a_slot_freed_on_one_enclave_wakes_no_waiter_for_another() -> None:
    """The dispatcher keys waits by (function, enclave): a request waits for the one it names."""

    async def main() -> tuple[bool, bool, bool]:
        queue: WaitQueue[tuple[str, bytes]] = WaitQueue(16)
        on_b = asyncio.create_task(queue.wait(("f", b"B"), later()))
        await settle()
        woke_for_a = queue.wake_one([("f", b"A")])
        await settle()
        still_waiting = not on_b.done()
        woke_for_b = queue.wake_one([("f", b"B")])
        await asyncio.wait_for(on_b, 1)
        return woke_for_a, still_waiting, woke_for_b

    assert run(main) == (False, True, True)


def test_a_key_nobody_waits_on_is_forgotten() -> None:
    async def main() -> int:
        queue: WaitQueue[tuple[str, bytes]] = WaitQueue(16)
        for i in range(50):  # enclaves come and go: each a new key
            task = asyncio.create_task(queue.wait(("f", bytes([i])), later()))
            await settle()
            queue.wake(("f", bytes([i])))
            await task
        return len(queue._queues) + len(queue._woken) + len(queue._served)

    assert run(main) == 0

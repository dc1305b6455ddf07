"""Requests waiting for an enclave with a free slot: per function, oldest first.

Every wait is bounded (by the request's deadline, and the whole queue by
`max_queue`), so nothing a host or a flood of clients does can make a
request wait forever or the queue grow without limit.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Iterable

from veil.host.transport import DeadlineExceeded, Overloaded


class WaitQueue:
    """Owns the waiting requests; knows nothing of workers or functions' enclaves.

    `wake_one` is the common path (one call ended, one slot is free);
    `wake_all` is for changes that may let many through at once (an enclave
    came, went, or finished loading a function).
    """

    def __init__(self, max_queue: int) -> None:
        self.max_queue = max_queue
        self._queues: dict[str, collections.deque[asyncio.Future[None]]] = {}
        self._waiting = 0

    @property
    def queued(self) -> int:
        return self._waiting

    async def wait(self, function: str, deadline: float) -> None:
        """Wait until woken: `Overloaded` if the queue is full, `DeadlineExceeded` at `deadline`."""
        if self._waiting >= self.max_queue:
            raise Overloaded("too many requests queued")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded("no enclave became free before the deadline")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queues.setdefault(function, collections.deque())
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

    def wake_one(self, functions: Iterable[str]) -> bool:
        """Wake the oldest request of the first of `functions` that has one waiting.

        Waking one, not all: with many requests queued, waking every one of
        them on every completion costs the gateway more than the request.
        Nothing is lost if the woken one finds the slot taken by a new
        arrival: that arrival's own completion wakes the next.
        """
        for function in functions:
            queue = self._queues.get(function)
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return True
        return False

    def wake_all(self) -> None:
        for queue in self._queues.values():
            for waiter in queue:
                if not waiter.done():
                    waiter.set_result(None)
            queue.clear()

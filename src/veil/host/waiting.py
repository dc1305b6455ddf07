"""Requests waiting for an enclave with a free slot: per function, in arrival order.

Every wait is bounded twice: by the request's deadline (`DeadlineExceeded`)
and by the queue-time limit (`QueueTimeout`), and the whole queue by
`max_queue` (`Overloaded`), so nothing a host or a flood of clients does can
make a request wait forever or the queue grow without limit.

Fair policy: within a function, oldest first; across the functions that
share a freed enclave, the function served least recently goes first
(round robin), so one function's flood cannot starve another's requests.
A woken request keeps its claim: until it has run, later arrivals of its
function queue behind it (`has_waiters`) instead of taking its slot.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import time
from collections.abc import Iterable

from veil.host.transport import DeadlineExceeded, Overloaded, QueueTimeout


class WaitQueue:
    """Owns the waiting requests; knows nothing of workers or functions' enclaves.

    `wake(function, n)` wakes at most `n` waiters of one function (as many
    as there are free slots); `wake_one` is the common path (one call
    ended, one slot is free). `fail` ends every wait of a function with an
    error (its cold start was refused). `wakeups` counts waiters woken.
    """

    def __init__(self, max_queue: int, max_wait_s: float = 10.0) -> None:
        self.max_queue, self.max_wait_s = max_queue, max_wait_s
        self._queues: dict[str, collections.deque[asyncio.Future[None]]] = {}
        self._woken: collections.Counter[str] = collections.Counter()
        self._served: dict[str, int] = {}
        self._tick = itertools.count()
        self._waiting = 0
        self.wakeups = 0

    @property
    def queued(self) -> int:
        return self._waiting

    def waiting_for(self, function: str) -> int:
        queue = self._queues.get(function)
        return len(queue) if queue else 0

    def functions(self) -> list[str]:
        """Functions with requests waiting."""
        return [f for f, q in self._queues.items() if q]

    def claimed(self, function: str) -> int:
        """Requests of `function` woken for a slot and not yet back to take it."""
        return self._woken[function]

    def has_waiters(self, function: str) -> bool:
        """Whether requests of `function` are queued or woken and not yet served."""
        return bool(self._queues.get(function)) or self._woken[function] > 0

    async def wait(self, function: str, deadline: float, *, front: bool = False) -> None:
        """Wait until woken, at most until `deadline` and the queue-time limit.

        `front` puts a woken request that found no slot back at the head,
        where it was, not behind requests that arrived after it.
        """
        if self._waiting >= self.max_queue and not front:
            raise Overloaded("too many requests queued")
        now = time.monotonic()
        remaining = deadline - now
        if remaining <= 0:
            raise DeadlineExceeded("no enclave became free before the deadline")
        bound = min(remaining, self.max_wait_s)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queues.setdefault(function, collections.deque())
        queue.appendleft(waiter) if front else queue.append(waiter)
        self._waiting += 1
        try:
            await asyncio.wait_for(waiter, bound)
        except TimeoutError:
            if bound < remaining:
                raise QueueTimeout("waited the queue-time limit for an enclave") from None
            raise DeadlineExceeded("no enclave became free before the deadline") from None
        finally:
            self._waiting -= 1
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._woken[function] -= 1
            else:  # not woken: leave the queue
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    queue.remove(waiter)

    def wake(self, function: str, n: int = 1) -> int:
        """Wake the `n` oldest requests of `function`; how many were woken."""
        queue, woken = self._queues.get(function), 0
        while queue and woken < n:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                woken += 1
        if woken:
            self._woken[function] += woken
            self._served[function] = next(self._tick)
            self.wakeups += woken
        return woken

    def wake_one(self, functions: Iterable[str]) -> bool:
        """Wake one request of the least recently served of `functions` that has one waiting.

        One, not all: with many requests queued, waking every one of them on
        every completion costs the gateway more than the request.
        """
        candidates = [f for f in functions if self._queues.get(f)]
        for function in sorted(candidates, key=lambda f: self._served.get(f, -1)):
            if self.wake(function):
                return True
        return False

    def fail(self, function: str, error: Exception) -> None:
        """End every wait of `function` with `error`."""
        queue = self._queues.get(function)
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_exception(error)

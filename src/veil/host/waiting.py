"""Requests waiting for an enclave with a free slot: per key, in arrival order.

A key is what a request waits for: the dispatcher's is (function, enclave
key id), since a request is sealed to one enclave and waits for that one.

Every wait is bounded twice: by the request's deadline (`DeadlineExceeded`)
and by the queue-time limit (`QueueTimeout`), and the whole queue by
`max_queue` (`Overloaded`), so nothing a host or a flood of clients does can
make a request wait forever or the queue grow without limit.

Fair policy: within a key, oldest first; across the keys that share a
freed enclave (its functions), the one served least recently goes first
(round robin), so one function's flood cannot starve another's requests.
A woken request keeps its claim: until it has run, later arrivals of its
key queue behind it (`has_waiters`) instead of taking its slot.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import time
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

from veil.host.transport import DeadlineExceeded, Overloaded, QueueTimeout

K = TypeVar("K", bound=Hashable)


class WaitQueue(Generic[K]):
    """Owns the waiting requests; knows nothing of workers or functions' enclaves.

    `wake(key, n)` wakes at most `n` waiters of one key (as many as there
    are free slots); `wake_one` is the common path (one call ended, one
    slot is free). `fail` ends every wait of a key with an error (its cold
    start was refused, its enclave is gone). `wakeups` counts waiters woken.
    """

    def __init__(self, max_queue: int, max_wait_s: float = 10.0) -> None:
        self.max_queue, self.max_wait_s = max_queue, max_wait_s
        self._queues: dict[K, collections.deque[asyncio.Future[None]]] = {}
        self._woken: collections.Counter[K] = collections.Counter()
        self._served: dict[K, int] = {}
        self._tick = itertools.count()
        self._waiting = 0
        self.wakeups = 0

    @property
    def queued(self) -> int:
        return self._waiting

    def waiting_for(self, key: K) -> int:
        queue = self._queues.get(key)
        return len(queue) if queue else 0

    def waiting_keys(self) -> list[K]:
        """Keys with requests waiting."""
        return [k for k, q in self._queues.items() if q]

    def claimed(self, key: K) -> int:
        """Requests of `key` woken for a slot and not yet back to take it."""
        return self._woken[key]

    def has_waiters(self, key: K) -> bool:
        """Whether requests of `key` are queued or woken and not yet served."""
        return bool(self._queues.get(key)) or self._woken[key] > 0

    async def wait(self, key: K, deadline: float, *, front: bool = False) -> None:
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
        queue = self._queues.setdefault(key, collections.deque())
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
                self._woken[key] -= 1
            else:  # not woken: leave the queue
                waiter.cancel()
                with contextlib.suppress(ValueError):
                    queue.remove(waiter)
            self._tidy(key)

    def _tidy(self, key: K) -> None:
        """Forget a key nobody waits on: enclaves come and go, their keys must not pile up."""
        if not self._queues.get(key) and not self._woken[key]:
            self._queues.pop(key, None)
            del self._woken[key]
            self._served.pop(key, None)

    def wake(self, key: K, n: int = 1) -> int:
        """Wake the `n` oldest requests of `key`; how many were woken."""
        queue, woken = self._queues.get(key), 0
        while queue and woken < n:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                woken += 1
        if woken:
            self._woken[key] += woken
            self._served[key] = next(self._tick)
            self.wakeups += woken
        return woken

    def wake_one(self, keys: Iterable[K]) -> bool:
        """Wake one request of the least recently served of `keys` that has one waiting.

        One, not all: with many requests queued, waking every one of them on
        every completion costs the gateway more than the request.
        """
        candidates = [k for k in keys if self._queues.get(k)]
        for key in sorted(candidates, key=lambda k: self._served.get(k, -1)):
            if self.wake(key):
                return True
        return False

    def fail(self, key: K, error: Exception) -> None:
        """End every wait of `key` with `error`."""
        queue = self._queues.get(key)
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_exception(error)

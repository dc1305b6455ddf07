"""Admission at the gateway: refuse what cannot be served, before reading its body.

A refusal decided from the URL alone costs the gateway a fixed, small
amount (no body read, no envelope parsed, a response built once and
reused), so a flood of clients retrying at once cannot spend the CPU the
requests being served need. Every refusal says when to come back
(`Retry-After`). Readiness (`/readyz`) is the same question asked of the
whole gateway: can it take new work now.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict

from fastapi.responses import JSONResponse, Response

from veil.host.transport import DispatchError, Overloaded

RATE_MEMORY_S = 30.0
"""How long the best second's service rate counts for admission."""

ALWAYS_ADMIT = 256
"""Requests of a function always let in (below `limit`), whatever its recent rate says:
a rate measured over a quiet second says nothing of what the enclaves can do."""


def retry_headers(exc: DispatchError | None) -> dict[str, str]:
    """`Retry-After` (whole seconds, rounded up) for a refusal that will pass; else none.

    0 says "at once, elsewhere": the enclave a request named is gone (`UnknownEnclave`).
    """
    seconds = exc.retry_after_s if exc is not None else None
    return {} if seconds is None else {"retry-after": str(math.ceil(seconds))}


def _prebuilt(status: int, kind: str, detail: str) -> Response:
    """A refusal built once: serving it is a send of fixed bytes."""
    headers = retry_headers(Overloaded()) if status == 429 else {"retry-after": "1"}
    return JSONResponse({"error": kind, "detail": detail}, status, headers)


class Admission:
    """Owns the per-function count of requests in flight or queued, and their service rate.

    A request is refused (429) when its function has `limit` requests in
    already, or, past `ALWAYS_ADMIT`, when the ones ahead of it would take
    longer than `max_wait_s` to serve at the rate the function was served in
    the last second: it would only time out in the queue, after costing more. Below
    that, requests are queued, not refused, since a refused client that
    retries at once costs the gateway more than one that waits its turn.

    `refusal(name)` is the check made before the body is read; `enter` and
    `leave` bracket a request that was let in.
    """

    def __init__(self, function_concurrency: int, max_wait_s: float = 10.0) -> None:
        self.limit, self.max_wait_s = function_concurrency, max_wait_s
        self.inflight: defaultdict[str, int] = defaultdict(int)
        self.refused = 0
        self._served: defaultdict[str, list[float]] = defaultdict(lambda: [0.0] * 5)
        """Per function: [this second, served in it, served in the one before, best, its second]."""
        self._too_many = _prebuilt(429, "Overloaded", "function concurrency limit reached")
        self._too_slow = _prebuilt(429, "Overloaded", "the queue is longer than can be served")

    def refusal(self, name: str) -> Response | None:
        """The answer to give `name`'s next request at once, or None to let it in."""
        waiting = self.inflight[name]
        if waiting >= self.limit:
            self.refused += 1
            return self._too_many
        if waiting >= ALWAYS_ADMIT and waiting > self.rate(name) * self.max_wait_s:
            self.refused += 1
            return self._too_slow
        return None

    def rate(self, name: str) -> float:
        """Requests of `name` served per second: the best whole second of the last `RATE_MEMORY_S`.

        The best, not the last: the second before a burst is often a quiet
        one, and says nothing of what the enclaves can serve.
        """
        served = self._roll(name)
        return max(served[2], served[3])

    def _roll(self, name: str) -> list[float]:
        served, second = self._served[name], float(int(time.monotonic()))
        if served[0] != second:
            served[2] = served[1] if served[0] == second - 1 else 0.0
            served[0], served[1] = second, 0.0
            if served[2] >= served[3] or second - served[4] > RATE_MEMORY_S:
                served[3], served[4] = served[2], second
        return served

    def enter(self, name: str) -> None:
        self.inflight[name] += 1

    def leave(self, name: str) -> None:
        self.inflight[name] -= 1
        self._roll(name)[1] += 1

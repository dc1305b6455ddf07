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
from collections import defaultdict

from fastapi.responses import JSONResponse, Response

from veil.host.transport import DispatchError, Overloaded

RETRY_AFTER_S = 1


def retry_headers(exc: DispatchError | None) -> dict[str, str]:
    """`Retry-After` (whole seconds, at least 1) for a refusal that will pass; else none."""
    seconds = exc.retry_after_s if exc is not None else None
    return {} if seconds is None else {"retry-after": str(max(1, math.ceil(seconds)))}


def _prebuilt(status: int, kind: str, detail: str) -> Response:
    """A refusal built once: serving it is a send of fixed bytes."""
    headers = retry_headers(Overloaded()) if status == 429 else {"retry-after": "1"}
    return JSONResponse({"error": kind, "detail": detail}, status, headers)


class Admission:
    """Owns the per-function count of requests in flight or queued at the gateway.

    `refusal(name)` is the check made before the body is read; `enter` and
    `leave` bracket a request that was let in.
    """

    def __init__(self, function_concurrency: int) -> None:
        self.limit = function_concurrency
        self.inflight: defaultdict[str, int] = defaultdict(int)
        self.refused = 0
        self._too_many = _prebuilt(429, "Overloaded", "function concurrency limit reached")

    def refusal(self, name: str) -> Response | None:
        """The answer to give `name`'s next request at once, or None to let it in."""
        if self.inflight[name] >= self.limit:
            self.refused += 1
            return self._too_many
        return None

    def enter(self, name: str) -> None:
        self.inflight[name] += 1

    def leave(self, name: str) -> None:
        self.inflight[name] -= 1

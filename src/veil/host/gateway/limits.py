"""Per-client request limits for the gateway: a token bucket per client address and kind.

Nothing before a request's envelope opens inside an enclave is authenticated,
so the gateway cannot tell tenants apart: it limits by client address. Each
(kind, address) pair has a token bucket; an empty bucket answers 429 with
`Retry-After` and a JSON error before the body is read, so a flooding client
costs the gateway one lookup per request while other clients are served. The
table of buckets is capped (least recently seen evicted), so a flood from
many addresses cannot grow it either.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from veil.host.gateway.errors import error_answer

MAX_CLIENTS = 65_536


@dataclass(frozen=True)
class ClientLimit:
    """`rate` requests a second sustained, `burst` at once, per client address."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a client limit needs a positive rate and burst")


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens, self.stamp = tokens, stamp


class ClientLimits:
    """ASGI middleware: `POST /v1/invoke/…` and `POST /v1/functions` within their limits.

    It owns only its bucket table; everything else passes through untouched.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        invoke: ClientLimit | None,
        deploy: ClientLimit | None,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app, self._clock, self._max = app, clock, max_clients
        self._limits = {"invoke": invoke, "deploy": deploy}
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = _kind(scope)
        limit = self._limits.get(kind) if kind else None
        if limit is not None and kind is not None:
            client = scope.get("client")
            wait = self._take((kind, client[0] if client else ""), limit)
            if wait > 0:
                answer = error_answer(
                    429, "TooManyRequests", f"{kind} rate limit for this client; retry later"
                )
                answer.headers["Retry-After"] = str(max(1, math.ceil(wait)))
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _take(self, key: tuple[str, str], limit: ClientLimit) -> float:
        """Take a token: 0 if there was one, else the seconds until there is."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(limit.burst), now)
            if len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(limit.burst, bucket.tokens + (now - bucket.stamp) * limit.rate)
            bucket.stamp = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / limit.rate


INVOKE_DEFAULT = ClientLimit(rate=5000, burst=10_000)
"""Far above one honest client's rate (the benchmarks included), far below a flood's."""
DEPLOY_DEFAULT = ClientLimit(rate=5, burst=50)
"""Each deploy may hash and re-encode a 64 MiB bundle."""


def _kind(scope: Scope) -> str | None:
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path = scope["path"]
    if path.startswith("/v1/invoke/"):
        return "invoke"
    return "deploy" if path == "/v1/functions" else None

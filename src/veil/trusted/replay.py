"""The replay window: each request id is served at most once before its deadline.

One per enclave, kept across re-installs of its functions; requests name the
enclave they are for (`WrongEnclave`), so one window covers every place a
request could run.

Deadlines may lie at most `max_ahead_ms` in the future, so an id only has
to be remembered until its deadline passes; after that the request is
refused as expired anyway. The window is bounded: when it is full, new
requests are refused (`ReplayWindowFull`) rather than memory growing
without bound under a flood.
"""

from __future__ import annotations

import heapq
import threading
from typing import Final

from veil.trusted.errors import Refused

DEFAULT_MAX_AHEAD_MS: Final = 5 * 60 * 1000
DEFAULT_CAPACITY: Final = 1_000_000


class RequestExpired(Refused):
    """The request's deadline has passed (or lies too far ahead to be tracked)."""

    public_message = "request deadline has passed or is too far ahead"


class ReplayedRequest(Refused):
    """A request id already served inside its deadline: a replay by the host or a client bug."""

    public_message = "request id was already served"


class ReplayWindowFull(Refused):
    """Too many live request ids; the request may be retried once deadlines pass."""

    public_message = "too many live requests; retry later"


class ReplayWindow:
    def __init__(
        self, max_ahead_ms: int = DEFAULT_MAX_AHEAD_MS, capacity: int = DEFAULT_CAPACITY
    ) -> None:
        self.max_ahead_ms = max_ahead_ms
        self.capacity = capacity
        self._seen: set[bytes] = set()
        self._expiry: list[tuple[int, bytes]] = []
        self._lock = threading.Lock()  # shared by every function of the enclave

    def admit(self, request_id: bytes, deadline_ms: int, now_ms: int) -> None:
        """Record `request_id`, or refuse it as expired, replayed or over capacity."""
        with self._lock:
            self._forget_before(now_ms)
            if deadline_ms <= now_ms:
                raise RequestExpired("request deadline has passed")
            if deadline_ms > now_ms + self.max_ahead_ms:
                raise RequestExpired("request deadline is too far in the future")
            if request_id in self._seen:
                raise ReplayedRequest("request id was already served")
            if len(self._seen) >= self.capacity:
                raise ReplayWindowFull("replay window is full")
            self._seen.add(request_id)
            heapq.heappush(self._expiry, (deadline_ms, request_id))

    def _forget_before(self, now_ms: int) -> None:
        expiry = self._expiry
        while expiry and expiry[0][0] <= now_ms:
            _, rid = heapq.heappop(expiry)
            self._seen.discard(rid)

    def __len__(self) -> int:
        return len(self._seen)

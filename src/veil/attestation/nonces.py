"""The verifier's nonce store: single use, expiring, capped, O(1) per challenge.

Anyone who can reach the verifier can ask for challenges, so the store must
not grow with them: nonces sit in issue order (their expiries are in the same
order, the TTL being fixed), expired ones are dropped from the front on each
call, and past `capacity` the oldest live nonce is evicted. Evicting, not
refusing, keeps challenges available under a flood; an honest enclave attests
within milliseconds of its challenge, so a flood must issue `capacity`
challenges inside that window to evict its nonce (per-client limits in front
of the verifier make that harder still), and an evicted nonce is refused like
an unknown one: the enclave asks again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from veil.attestation.errors import NonceInvalid

NONCE_TTL_S = 120
CAPACITY = 10_000


class NonceStore:
    """Issued, unused, unexpired nonces; `consume` succeeds once per nonce within its life."""

    def __init__(
        self,
        *,
        ttl_s: float = NONCE_TTL_S,
        capacity: int = CAPACITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1 or ttl_s <= 0:
            raise ValueError("a nonce store needs a positive capacity and TTL")
        self._ttl_s, self._capacity, self._clock = ttl_s, capacity, clock
        self._expiry: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def issue(self, nonce: bytes) -> None:
        with self._lock:
            now = self._clock()
            self._drop_expired(now)
            if len(self._expiry) >= self._capacity:
                self._expiry.popitem(last=False)
            self._expiry[nonce] = now + self._ttl_s

    def consume(self, nonce: bytes) -> None:
        """Use `nonce` up, or raise `NonceInvalid` if it was never issued, expired, or used."""
        with self._lock:
            expiry = self._expiry.pop(nonce, None)
            self._drop_expired(self._clock())
        if expiry is None or expiry <= self._clock():
            raise NonceInvalid("nonce was never issued, has expired, or was already used")

    def _drop_expired(self, now: float) -> None:
        """Amortised O(1): each nonce is dropped once; a clock that steps back drops none."""
        while self._expiry:
            nonce, expiry = next(iter(self._expiry.items()))
            if expiry > now:
                return
            del self._expiry[nonce]

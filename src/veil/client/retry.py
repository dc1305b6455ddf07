"""Backing off from a busy gateway: which answers to retry, how, and how long to wait first.

429 (`Overloaded`) and 503 (no capacity, the key service away, a queue
that waited too long) say the condition will pass; the gateway's
`Retry-After` says when. A client retries those, and nothing else, with
exponential backoff and full jitter (so clients refused together do not
come back together), never past the request's own deadline.

How: a request refused before it reached an enclave is sent again as the
same envelope (same request id), so a host that lied about refusing it
still cannot get it run twice: the enclave's replay window refuses the
copy. Only when the enclave the envelope names is gone (`UnknownEnclave`,
`WorkerDied`) is the input sealed again, to another enclave, with a new
request id (`veil.client.sdk.MAX_RESEALS` times at most, never with
`failover=False`); if the first enclave ran it and died before answering,
or the host lied, the function has then run twice
(docs/design/0002-protocol.md).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from veil.client.errors import GatewayError

log = logging.getLogger("veil.client")

RETRY_STATUSES = frozenset({429, 503})
RESEAL_KINDS = frozenset({"UnknownEnclave", "WorkerDied"})
"""503s that say the envelope's enclave is gone: seal again, to another one."""
BASE_S = 0.05
CAP_S = 2.0

OnRetry = Callable[[str], None]


def retryable(error: GatewayError) -> bool:
    return error.status in RETRY_STATUSES


def reseal(error: GatewayError) -> bool:
    """Whether a retry of `error` needs a new envelope (another enclave, a new request id)."""
    return error.status == 503 and error.kind in RESEAL_KINDS


class Backoff:
    """The waits of one request's retries, all ending before `deadline` (monotonic)."""

    def __init__(self, deadline: float, rng: random.Random | None = None) -> None:
        self.deadline = deadline
        self.attempt = 0
        self._rng = rng or random.Random()

    def delay(self, error: GatewayError) -> float | None:
        """Seconds to wait before retrying `error`; None to give up (not retryable, no time)."""
        if not retryable(error):
            return None
        backoff = self._rng.uniform(0, min(CAP_S, BASE_S * 2**self.attempt))
        wait = max(backoff, error.retry_after_s or 0.0)
        self.attempt += 1
        if time.monotonic() + wait >= self.deadline - BASE_S:
            return None
        return wait

    def announce(
        self, name: str, error: GatewayError, wait: float, on_retry: OnRetry | None
    ) -> None:
        answer = f"{error.status} {error.kind}"
        message = f"{name}: gateway answered {answer}; retry {self.attempt} in {wait:.2f} s"
        log.info("%s", message)
        if on_retry is not None:
            on_retry(message)

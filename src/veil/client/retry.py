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
request id (`MAX_RESEALS` times at most, never with
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
from veil.client.invoke import SealedRequest, seal
from veil.trusted.wire.records import FunctionRecord

log = logging.getLogger("veil.client")

RETRY_STATUSES = frozenset({429, 503})
RESEAL_KINDS = frozenset({"UnknownEnclave", "WorkerDied"})
"""503s that say the envelope's enclave is gone: seal again, to another one."""
BASE_S = 0.05
CAP_S = 2.0
MAX_RESEALS = 3
"""New envelopes one invocation may seal after the first, when enclaves it names are gone:
each may run once, so a hostile host can make one `invoke` run at most 1 + this many times."""

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


class Attempts:
    """One invocation's tries: the envelope to send next, and what a refusal does to it.

    A refusal before any enclave (429, 503) keeps the envelope: it is sent
    again as it is. `UnknownEnclave` and `WorkerDied` drop it: the next try
    seals the input again, with a new request id, to an enclave other than
    the ones that failed (from a freshly fetched set), at most `MAX_RESEALS`
    times, and not at all without `failover`.
    """

    def __init__(
        self, name: str, timeout_s: float, on_retry: OnRetry | None, failover: bool
    ) -> None:
        self.name, self.on_retry = name, on_retry
        self.backoff = Backoff(time.monotonic() + timeout_s)
        self.request: SealedRequest | None = None
        self.failed: set[bytes] = set()
        self.reseals_left = MAX_RESEALS if failover else 0

    @property
    def remaining(self) -> float:
        return self.backoff.deadline - time.monotonic()

    def seal(self, record: FunctionRecord, data: bytes, offered: list[bytes]) -> SealedRequest:
        enclave = random.choice([k for k in offered if k not in self.failed] or offered)
        self.request = seal(record, data, enclave=enclave, timeout_s=self.remaining)
        return self.request

    def refused(self, error: GatewayError) -> float | None:
        """Seconds to wait before the next try, or None to give up."""
        sealed_anew = self.request is not None and reseal(error)
        wait = self.backoff.delay(error)
        if wait is None or (sealed_anew and self.reseals_left == 0):
            return None
        self.backoff.announce(self.name, error, wait, self.on_retry)
        if self.request is not None and sealed_anew:
            self.failed.add(self.request.meta.enclave)
            self.request, self.reseals_left = None, self.reseals_left - 1
        return wait

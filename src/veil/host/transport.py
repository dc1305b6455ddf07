"""How the gateway reaches enclaves: one interface, whatever carries the requests.

`Dispatcher` (worker processes on this machine, over socketpairs) is the
local implementation; a NATS implementation (request/reply with queue
groups) can stand beside it, and the gateway does not change. Everything
that crosses it is routing metadata and sealed bytes. A request it cannot
get served fails with a `DispatchError`, whose `status` is the HTTP answer.
"""

from __future__ import annotations

from typing import Any, Protocol

from veil.host.events import EventLog
from veil.host.metrics import Metrics
from veil.host.registry import Registry


class DispatchError(Exception):
    """A request the host could not get served; `status` is the HTTP answer.

    `retry_after_s`, when set, is how long a client should wait before it
    tries again (the `Retry-After` header): the condition is passing, not
    the request wrong.
    """

    status = 503
    retry_after_s: float | None = 1.0


class Overloaded(DispatchError):
    """Too many requests are queued already: retry later (429)."""

    status = 429
    retry_after_s = 0.5


class QueueTimeout(DispatchError):
    """The request waited the queue-time limit without an enclave slot: retry later (503)."""


class NoCapacity(DispatchError):
    """No enclave could be started for this function (503)."""


class DeadlineExceeded(DispatchError):
    """The request's deadline passed before an enclave answered (504)."""

    status = 504
    retry_after_s = None


class WorkerDied(DispatchError):
    """The enclave serving the request died mid-request (503).

    The host does not try it on another enclave: the request names one, and
    the one it names may have run it. A client that wants an answer seals it
    again, with a new request id, to another enclave (`Retry-After: 0`).
    """

    retry_after_s = 0.0


class UnknownEnclave(DispatchError):
    """No live enclave has the key id the request names: it died, was retired, or never was.

    Nothing ran; the client seals the request again to another enclave (503, `Retry-After: 0`).
    """

    retry_after_s = 0.0


class FunctionNotDeployed(DispatchError):
    """No function of that name is in the registry (404)."""

    status = 404
    retry_after_s = None


class KmsUnavailable(DispatchError):
    """The key service did not answer (a cold start or deploy needs it): retry later (503).

    Unlike `NoCapacity` (no enclave can be had), the enclaves are fine:
    warm functions keep serving, and the next cold start tries again.
    """

    retry_after_s = 2.0


class StorageUnavailable(DispatchError):
    """The host's registry (bundle storage) failed to answer: retry later (503)."""

    retry_after_s = 2.0


class EnclaveTransport(Protocol):
    registry: Registry
    events: EventLog
    metrics: Metrics

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def invoke(
        self, function: str, enclave: bytes, envelope: bytes, deadline: float
    ) -> bytes:
        """Serve one sealed request on the enclave whose key id is `enclave`, by `deadline`
        (monotonic seconds), and on no other; raise `DispatchError`."""
        ...

    async def recommend(self, function: str) -> list[dict[str, Any]]:
        """The enclaves to seal `function`'s requests to: `{"key_id": hex, "warm": bool}` each."""
        ...

    def deployed(self, function: str, version: int) -> None:
        """`version` of `function` is now the registry's: stop serving older ones from warm
        enclaves (they would refuse requests sealed to the new record as `StaleVersion`)."""
        ...

    def removed(self, function: str) -> None:
        """`function` was removed: no enclave may keep serving it in any version."""
        ...

    async def refresh(self, function: str) -> int:
        """Give every warm enclave of `function` a fresh key grant now (rotated secrets);
        return how many took one. Liveness only: the grant expiry bounds any delay."""
        ...

    def enclaves(self) -> list[dict[str, Any]]:
        """Each enclave's id, state, TEE, key id, functions and attestation result."""
        ...

    def readiness(self) -> dict[str, bool]:
        """Named checks for `/readyz`; the gateway is ready when all are true."""
        ...

    def load(self) -> dict[str, int]:
        """Counts for health checks: enclaves, requests in flight, requests queued."""
        ...

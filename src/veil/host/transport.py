"""How the gateway reaches enclaves: one interface, whatever carries the requests.

`Dispatcher` (worker processes on this machine, over socketpairs) is the
local implementation; a NATS implementation (request/reply with queue
groups) can stand beside it, and the gateway does not change. Everything
that crosses it is routing metadata and sealed bytes.
"""

from __future__ import annotations

from typing import Any, Protocol

from veil.host.events import EventLog
from veil.host.metrics import Metrics
from veil.host.registry import Registry


class EnclaveTransport(Protocol):
    registry: Registry
    events: EventLog
    metrics: Metrics

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def invoke(self, function: str, envelope: bytes, deadline: float) -> bytes:
        """Serve one sealed request by `deadline` (monotonic seconds); raise `DispatchError`."""
        ...

    def enclaves(self) -> list[dict[str, Any]]:
        """Each enclave's id, state, TEE, key id, functions and attestation result."""
        ...

    def load(self) -> dict[str, int]:
        """Counts for health checks: enclaves, requests in flight, requests queued."""
        ...

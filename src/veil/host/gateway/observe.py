"""The gateway's host-side views: enclaves, the event log, health, readiness, metrics.

All of it is what the host knows and may show anyone who reaches the gateway
(docs/http-api.md); none of it touches a tenant's data.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from veil.host.transport import EnclaveTransport


def observe_router(transport: EnclaveTransport) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/enclaves")
    def enclaves() -> list[dict[str, Any]]:
        return transport.enclaves()

    @router.get("/v1/events")
    def event_log(since: int = 0) -> list[dict[str, Any]]:
        return transport.events.since(since)

    @router.get("/healthz")
    async def health() -> dict[str, Any]:
        """Liveness: on the event loop itself (no thread hop), so it answers while invokes queue."""
        return {"status": "ok", **transport.load()}

    @router.get("/readyz")
    async def ready() -> JSONResponse:
        """Readiness: 200 if the gateway can take new work now, else 503 with the failing checks."""
        checks = transport.readiness()
        ready = all(checks.values())
        return JSONResponse({"ready": ready, **checks}, 200 if ready else 503)

    @router.get("/metrics")
    def prometheus() -> Response:
        return Response(transport.metrics.render(), media_type="text/plain; version=0.0.4")

    return router

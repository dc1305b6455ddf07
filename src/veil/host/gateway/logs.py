"""`GET /v1/logs/{name}`: a function's sealed log entries, which only its tenant can open.

Not under `/v1/functions/{name}`: a function name may hold any number of `/`,
so a route below it would shadow a function named like it.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from veil.host.logstore import LogStore


def logs_router(log_store: LogStore) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/logs/{name:path}")
    async def function_logs(name: str, after: int = 0) -> Response:
        """`name`'s sealed log entries after sequence number `after` (`{"entries": [...]}`),
        oldest first, a page at a time; only the tenant's log key opens them."""
        entries = await asyncio.to_thread(log_store.after, name, after)
        return JSONResponse({"entries": [e.to_json() for e in entries]})

    return router

"""`InvokeFastPath`: the gateway's hot path, `POST /v1/invoke/{name}`, served beside FastAPI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi.responses import Response
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

ServeInvoke = Callable[[str, bytes | None], Awaitable[Response]]
Refuse = Callable[[str], Response | None]

INVOKE_PREFIX = "/v1/invoke/"


class InvokeFastPath:
    """ASGI middleware that serves `POST /v1/invoke/{name}` without FastAPI's machinery.

    Invocations are the hot path, and FastAPI's per-request machinery
    (middleware, routing, dependency solving, parameter validation, exit
    stacks) cost as much gateway CPU as the rest of an invocation. This answers the
    same request with the same code (`serve` is the route's own body) and
    the same error answers; the FastAPI route stays for OpenAPI and tests
    that call it in-process. Everything else passes through untouched.
    `refuse` is asked first, from the path alone: a refusal it gives is sent
    before the body is read (`host.gateway.admission`).
    """

    def __init__(
        self, app: ASGIApp, serve: ServeInvoke, limit: int, refuse: Refuse | None = None
    ) -> None:
        self.app, self.serve, self.limit = app, serve, limit
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith(INVOKE_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        name = scope["path"][len(INVOKE_PREFIX) :]
        refusal = self.refuse(name) if self.refuse is not None else None
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        try:
            body = await self._body(scope, receive)
        except ClientDisconnect:
            return  # nobody to answer
        response = await self.serve(name, body)
        await response(scope, receive, send)

    async def _body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The request body, or None if it is over the limit (declared or actual)."""
        for key, value in scope["headers"]:
            if key == b"content-length":
                if value.isdigit() and int(value) > self.limit:
                    return None
                break
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

"""The gateway app (FastAPI on uvicorn). It sees metadata and ciphertext, nothing else.

Invoke bodies are sealed envelopes; the gateway parses only their plaintext
metadata to route (function, deadline), never logs bodies, and answers
refusals with the error's class name only.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from veil.host.gateway.bodies import MAX_DEPLOY, envelope_metadata, parse_deploy
from veil.host.gateway.errors import error_answer, status_for
from veil.host.gateway.limits import DEPLOY_DEFAULT, INVOKE_DEFAULT, ClientLimit, ClientLimits
from veil.host.registry import Entry
from veil.host.transport import DispatchError, EnclaveTransport
from veil.host.trust import TrustServices
from veil.trusted.crypto.signing import VerifyKey
from veil.trusted.errors import MalformedMessage, Refused, VeilError
from veil.trusted.wire.envelope import MAX_ENVELOPE
from veil.trusted.wire.records import FunctionRecord

CBOR = "application/cbor"
MAX_DEADLINE_S = 300.0


@dataclass
class GatewayConfig:
    max_request_bytes: int = 8 * 1024 * 1024
    function_concurrency: int = 256
    """Requests of one function in flight or queued at once; beyond it, 429."""
    invoke_per_client: ClientLimit | None = INVOKE_DEFAULT
    """Invocations per client address (token bucket); beyond it, 429 with Retry-After."""
    deploy_per_client: ClientLimit | None = DEPLOY_DEFAULT
    """Deploys per client address; None turns a limit off."""


class UploadRefused(Refused):
    """A deploy whose bundle does not match the record the KMS signed for it."""


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body over the {limit}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


ServeInvoke = Callable[[str, bytes | None], Awaitable[Response]]

INVOKE_PREFIX = "/v1/invoke/"


class InvokeFastPath:
    """ASGI middleware that serves `POST /v1/invoke/{name}` without FastAPI's machinery.

    Invocations are the hot path, and FastAPI's per-request machinery
    (middleware, routing, dependency solving, parameter validation, exit
    stacks) cost as much gateway CPU as the rest of an invocation. This answers the
    same request with the same code (`serve` is the route's own body) and
    the same error answers; the FastAPI route stays for OpenAPI and tests
    that call it in-process. Everything else passes through untouched.
    """

    def __init__(self, app: ASGIApp, serve: ServeInvoke, limit: int) -> None:
        self.app, self.serve, self.limit = app, serve, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not scope["path"].startswith(INVOKE_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        try:
            body = await self._body(scope, receive)
        except ClientDisconnect:
            return  # nobody to answer
        response = await self.serve(scope["path"][len(INVOKE_PREFIX) :], body)
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


class _GatewayApp(FastAPI):
    """FastAPI with `InvokeFastPath` outside its whole middleware stack.

    Outside, not inside as `add_middleware` would put it: FastAPI's own
    outer layers (error, telemetry and body-limit middleware; the telemetry
    one reads the environment on every request) cost another ~10% of the
    gateway per invocation. Uncaught errors in the fast path still end as a
    plain 500 (uvicorn answers it, as `ServerErrorMiddleware` would).
    """

    fast_path: tuple[ServeInvoke, int] | None = None
    client_limits: GatewayConfig | None = None
    """Outermost of all (`limits.ClientLimits`): a flooding client is refused before any parsing."""

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        if self.fast_path is not None:
            serve, limit = self.fast_path
            stack = InvokeFastPath(stack, serve, limit)
        if self.client_limits is None:
            return stack
        cfg = self.client_limits
        return ClientLimits(stack, invoke=cfg.invoke_per_client, deploy=cfg.deploy_per_client)


def gateway_app(
    transport: EnclaveTransport, trust: TrustServices, config: GatewayConfig | None = None
) -> FastAPI:
    """The gateway over `transport` (the enclaves); `trust` relays registrations to the KMS."""
    cfg = config or GatewayConfig()
    registry = transport.registry
    metrics = transport.metrics
    events = transport.events
    inflight: defaultdict[str, int] = defaultdict(int)
    kms_key: list[VerifyKey] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await transport.start()
        try:
            yield
        finally:
            await transport.stop()

    app = _GatewayApp(title="Veil gateway", version="1", lifespan=lifespan)

    def refusal(exc: VeilError | DispatchError) -> JSONResponse:
        metrics.errors.labels(type(exc).__name__).inc()
        return error_answer(status_for(exc), type(exc).__name__, str(exc))

    @app.exception_handler(VeilError)
    async def refused(_request: Request, exc: VeilError) -> JSONResponse:
        return refusal(exc)

    @app.exception_handler(DispatchError)
    async def dispatch_failed(_request: Request, exc: DispatchError) -> JSONResponse:
        return refusal(exc)

    def pinned_kms() -> VerifyKey:
        if not kms_key:
            kms_key.append(trust.public_key)
        return kms_key[0]

    @app.post("/v1/functions", status_code=201)
    async def deploy(request: Request) -> Response:
        """Deploy a tenant-signed bundle with its registration or its KMS-signed record.

        Either the tenant-signed registration (the KMS checks the tenant's
        signature) or a record the tenant already got from the KMS directly
        (when it registers secrets, which must not pass through the host).
        The bundle must be signed by the record's signer: no anonymous deploys.
        """
        body = await _read_body(request, MAX_DEPLOY)
        parsed = await asyncio.to_thread(parse_deploy, body)
        bundle, signed_bundle = parsed.bundle, parsed.bundle_bytes
        registration, record_bytes = parsed.registration, parsed.record
        if registration is not None:
            record_bytes = await asyncio.to_thread(trust.register_function, registration)
        record = FunctionRecord.verify(record_bytes, pinned_kms())
        if record.name != bundle.bundle.manifest.name:
            raise UploadRefused("bundle manifest names another function")
        await asyncio.to_thread(
            bundle.verify, digest=record.digest, signer=VerifyKey(record.signer)
        )
        registry.put(Entry(record.name, record.digest, record_bytes, record.version), signed_bundle)
        events.emit(
            "deployed",
            function=record.name,
            version=record.version,
            digest=record.digest.hex()[:16],
        )
        return Response(record_bytes, status_code=201, media_type=CBOR)

    @app.get("/v1/functions")
    def list_functions() -> list[dict[str, Any]]:
        return [
            {
                "name": e.name,
                "version": e.version,
                "digest": e.digest.hex(),
                "record": e.record.hex(),
            }
            for e in registry.entries()
        ]

    @app.get("/v1/functions/{name:path}")
    def get_function(name: str) -> Response:
        """The KMS-signed function record; clients verify it with the KMS key they pinned."""
        entry = registry.get(name)
        if entry is None:
            return error_answer(404, "UnknownFunctionName", f"function {name!r} is not deployed")
        return Response(entry.record, media_type=CBOR)

    async def serve_invoke(name: str, body: bytes) -> Response:
        started = time.perf_counter()
        meta = await envelope_metadata(body)
        if meta.function != name:
            raise MalformedMessage("envelope is for another function than the URL names")
        if inflight[name] >= cfg.function_concurrency:
            metrics.requests.labels(name, "throttled").inc()
            return error_answer(429, "Overloaded", "function concurrency limit reached")
        remaining = min(meta.deadline_ms / 1000 - time.time(), MAX_DEADLINE_S)
        inflight[name] += 1
        try:
            reply = await transport.invoke(name, body, time.monotonic() + max(remaining, 0))
        except Exception:
            metrics.requests.labels(name, "error").inc()
            raise
        finally:
            inflight[name] -= 1
        metrics.requests.labels(name, "ok").inc()
        metrics.latency.labels(name).observe(time.perf_counter() - started)
        return Response(reply, media_type=CBOR)

    @app.post("/v1/invoke/{name:path}")
    async def invoke(name: str, request: Request) -> Response:
        """A sealed envelope in, a sealed response with its receipt out."""
        body = await _read_body(request, invoke_limit)
        return await serve_invoke(name, body)

    async def invoke_fast(name: str, body: bytes | None) -> Response:
        """The same as `invoke`, for `InvokeFastPath`: errors answered as the handlers do."""
        if body is None:
            return JSONResponse({"detail": f"body over the {invoke_limit}-byte limit"}, 413)
        try:
            return await serve_invoke(name, body)
        except (VeilError, DispatchError) as exc:
            return refusal(exc)

    invoke_limit = min(cfg.max_request_bytes, MAX_ENVELOPE)
    app.fast_path = (invoke_fast, invoke_limit)
    app.client_limits = cfg

    @app.get("/v1/enclaves")
    def enclaves() -> list[dict[str, Any]]:
        return transport.enclaves()

    @app.get("/v1/events")
    def event_log(since: int = 0) -> list[dict[str, Any]]:
        return events.since(since)

    @app.get("/healthz")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            **transport.load(),
        }

    @app.get("/metrics")
    def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return app

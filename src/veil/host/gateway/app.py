"""The gateway app (FastAPI on uvicorn). It sees metadata and ciphertext, nothing else.

Invoke bodies are sealed envelopes; the gateway parses only their plaintext
metadata to route (function, deadline), never logs bodies, and answers
refusals with the error's class name only.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp

from veil.host.gateway.admission import Admission, retry_headers
from veil.host.gateway.bodies import MAX_DEPLOY, envelope_metadata, parse_deploy
from veil.host.gateway.console import console_router
from veil.host.gateway.errors import error_answer, is_refusal, status_for
from veil.host.gateway.fastpath import InvokeFastPath, Refuse, ServeInvoke
from veil.host.gateway.limits import DEPLOY_DEFAULT, INVOKE_DEFAULT, ClientLimit, ClientLimits
from veil.host.gateway.logs import logs_router
from veil.host.gateway.observe import observe_router
from veil.host.gateway.records import FreshRecords
from veil.host.gateway.stats import Sampler, stats_router
from veil.host.logstore import LogStore
from veil.host.registry import Entry, StaleDeploy
from veil.host.replies import read_reply
from veil.host.transport import (
    DispatchError,
    EnclaveTransport,
    FunctionNotDeployed,
    KmsUnavailable,
    StorageUnavailable,
)
from veil.host.trust import TrustServices
from veil.registration import removal_name
from veil.trusted.bundle import SIGN_CONTEXT, BundleRefused, SealedBundle
from veil.trusted.crypto.signing import VerifyKey
from veil.trusted.errors import MalformedMessage, Refused, VeilError
from veil.trusted.wire.envelope import MAX_ENVELOPE
from veil.trusted.wire.records import FunctionRecord

CBOR = "application/cbor"
T = TypeVar("T")
MAX_DEADLINE_S = 300.0
MAX_REMOVAL = 64 * 1024


@dataclass
class GatewayConfig:
    max_request_bytes: int = 8 * 1024 * 1024
    function_concurrency: int = 1024
    """Requests of one function in flight or queued at once; beyond it, 429."""
    invoke_per_client: ClientLimit | None = INVOKE_DEFAULT
    """Invocations per client address (token bucket); beyond it, 429 with Retry-After."""
    deploy_per_client: ClientLimit | None = DEPLOY_DEFAULT
    """Deploys per client address; None turns a limit off."""
    max_wait_s: float = 10.0
    """Refuse (429) when the requests ahead would take longer than this to serve."""


class UploadRefused(Refused):
    """A deploy whose bundle does not match the record the KMS signed for it."""


def check_upload(bundle: SealedBundle, record: FunctionRecord) -> None:
    """Refuse a sealed bundle other than the one `record` names, signed by its signer.

    The gateway cannot open the code (it never holds a code key): this keeps
    anonymous and mismatched uploads out of the registry; the enclave checks
    the code itself against the same digest and signature.
    """
    if bundle.manifest.name != record.name:
        raise UploadRefused("bundle manifest names another function")
    if bundle.digest != record.digest or bundle.signer.raw != record.signer:
        raise BundleRefused("bundle is not the registered one, or not by its signer")
    bundle.signer.verify(SIGN_CONTEXT, bundle.digest, bundle.signature)


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


class _GatewayApp(FastAPI):
    """FastAPI with `InvokeFastPath` outside its whole middleware stack.

    Outside, not inside as `add_middleware` would put it: FastAPI's own
    outer layers (error, telemetry and body-limit middleware; the telemetry
    one reads the environment on every request) cost another ~10% of the
    gateway per invocation. Uncaught errors in the fast path still end as a
    plain 500 (uvicorn answers it, as `ServerErrorMiddleware` would).
    """

    fast_path: tuple[ServeInvoke, int, Refuse | None] | None = None
    client_limits: GatewayConfig | None = None
    """Outermost of all (`limits.ClientLimits`): a flooding client is refused before any parsing."""

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        if self.fast_path is not None:
            serve, limit, refuse = self.fast_path
            stack = InvokeFastPath(stack, serve, limit, refuse)
        if self.client_limits is None:
            return stack
        cfg = self.client_limits
        return ClientLimits(stack, invoke=cfg.invoke_per_client, deploy=cfg.deploy_per_client)


def gateway_app(
    transport: EnclaveTransport,
    trust: TrustServices,
    config: GatewayConfig | None = None,
    logs: LogStore | None = None,
) -> FastAPI:
    """The gateway over `transport` (the enclaves); `trust` relays registrations to the KMS;
    `logs` keeps functions' sealed log entries (in memory if None)."""
    cfg = config or GatewayConfig()
    log_store = logs or LogStore()
    registry = transport.registry
    metrics = transport.metrics
    events = transport.events
    admission = Admission(cfg.function_concurrency, cfg.max_wait_s)
    kms_key: list[VerifyKey] = []
    sampler = Sampler(metrics)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await transport.start()
        try:
            async with sampler.running():
                yield
        finally:
            await transport.stop()

    # No /docs or /redoc: FastAPI's pages load their scripts from a CDN, so they would not
    # work offline and would make a browser fetch code from a third party. /openapi.json
    # stays (docs/http-api.md).
    app = _GatewayApp(
        title="Veil gateway", version="1", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.include_router(stats_router(sampler))
    app.include_router(console_router())
    app.include_router(observe_router(transport))
    app.include_router(logs_router(log_store))

    def refusal(exc: VeilError | DispatchError) -> JSONResponse:
        metrics.errors.labels(type(exc).__name__).inc()
        headers = retry_headers(exc) if isinstance(exc, DispatchError) else None
        return error_answer(status_for(exc), type(exc).__name__, str(exc), headers)

    @app.exception_handler(VeilError)
    async def refused(_request: Request, exc: VeilError) -> JSONResponse:
        return refusal(exc)

    @app.exception_handler(DispatchError)
    async def dispatch_failed(_request: Request, exc: DispatchError) -> JSONResponse:
        return refusal(exc)

    async def kms_call(fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` off the loop; the KMS not answering is `KmsUnavailable`, no address in it."""
        try:
            return await asyncio.to_thread(fn, *args)
        except (OSError, VeilError) as exc:
            if isinstance(exc, VeilError) and is_refusal(exc):
                raise
            metrics.errors.labels("KmsUnavailable").inc()
            raise KmsUnavailable("the key service is unavailable") from None

    def pinned_kms() -> VerifyKey:
        if not kms_key:
            kms_key.append(trust.public_key)
        return kms_key[0]

    records = FreshRecords(
        lambda name: kms_call(trust.function_record, name), lambda: kms_call(pinned_kms)
    )

    @app.post("/v1/functions", status_code=201)
    async def deploy(request: Request) -> Response:
        """Deploy a sealed bundle with its tenant-signed registration: the one way to deploy.

        The KMS checks the registration (the tenant's signature, its window,
        its sealed code key and secrets, which the gateway cannot open); the
        bundle must be the one the record names, signed by its signer.
        """
        body = await _read_body(request, MAX_DEPLOY)
        parsed = await asyncio.to_thread(parse_deploy, body)
        record_bytes = await kms_call(trust.register_function, parsed.registration)
        record = FunctionRecord.verify(record_bytes, await kms_call(pinned_kms))
        check_upload(parsed.bundle, record)
        entry = Entry(record.name, record.digest, record_bytes, record.version)
        try:
            registry.put(entry, parsed.bundle_bytes)
            registry.prune()  # bundles no version needs any more
        except sqlite3.Error:
            raise StorageUnavailable("the function registry is unavailable") from None
        except StaleDeploy as exc:
            return error_answer(exc.status, type(exc).__name__, str(exc))
        transport.deployed(record.name, record.version)
        events.emit(
            "deployed",
            function=record.name,
            version=record.version,
            digest=record.digest.hex()[:16],
        )
        return Response(record_bytes, status_code=201, media_type=CBOR)

    @app.get("/v1/versions/{name:path}")
    async def versions(name: str) -> Response:
        """The KMS-signed list of `name`'s retained versions, relayed (clients verify it)."""
        return Response(await kms_call(trust.versions, name), media_type=CBOR)

    @app.post("/v1/remove")
    async def remove(request: Request) -> dict[str, bool]:
        """Remove a function on a tenant-signed removal: the KMS first (its keys and records,
        the check of the tenant's signature), then its bundles and enclaves here."""
        body = await _read_body(request, MAX_REMOVAL)
        await kms_call(trust.remove_function, body)
        name = removal_name(body)
        try:
            registry.remove(name)
        except sqlite3.Error:
            raise StorageUnavailable("the function registry is unavailable") from None
        transport.removed(name)
        events.emit("removed", function=name)
        return {"removed": True}

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

    @app.post("/v1/refresh/{name:path}")
    async def refresh(name: str) -> dict[str, int]:
        """Renew `name`'s grants in its warm enclaves now, after `veil secret set`.

        Unauthenticated: it only asks the host to do sooner what grant expiry
        forces anyway, and a host can always delay it (up to the grant's TTL).
        """
        if registry.get(name) is None:
            raise FunctionNotDeployed(f"function {name!r} is not deployed")
        return {"renewed": await transport.refresh(name)}

    @app.get("/v1/enclaves/{name:path}")
    async def function_enclaves(name: str) -> Response:
        """The enclaves the host recommends sealing `name`'s requests to (`{"enclaves": [...]}`).

        Each is `{"key_id": hex, "warm": bool}`; a client seals each request to
        one of them. Only a recommendation: a host can offer whom it likes, and
        an enclave runs only what is sealed to it, once. Not under
        `/v1/functions/{name}`: a function name may hold any number of `/`.
        """
        try:
            return JSONResponse({"enclaves": await transport.recommend(name)})
        except FunctionNotDeployed:
            return error_answer(404, "UnknownFunctionName", f"function {name!r} is not deployed")

    @app.get("/v1/functions/{name:path}")
    async def get_function(name: str) -> Response:
        """The function's current record from the KMS (`FreshRecords`), not the registry's copy:
        clients refuse expired ones. Clients verify it with the KMS key they pinned."""
        try:
            entry = registry.get(name)
        except sqlite3.Error:  # the registry is failing: the KMS knows whether it exists
            return Response(await records.get(name), media_type=CBOR)
        if entry is None:
            return error_answer(404, "UnknownFunctionName", f"function {name!r} is not deployed")
        return Response(await records.get(name, entry.version), media_type=CBOR)

    async def serve_invoke(name: str, body: bytes) -> Response:
        started = time.perf_counter()
        meta = await envelope_metadata(body)
        if meta.function != name:
            raise MalformedMessage("envelope is for another function than the URL names")
        refused = admission.refusal(name)
        if refused is not None:
            return refused
        remaining = min(meta.deadline_ms / 1000 - time.time(), MAX_DEADLINE_S)
        admission.enter(name)
        try:
            deadline = time.monotonic() + max(remaining, 0)
            reply = await transport.invoke(name, meta.enclave, body, deadline)
        except Exception:
            metrics.requests.labels(name, "error").inc()
            raise
        finally:
            admission.leave(name)
        answer = read_reply(reply)
        entry = None if answer is None else answer.log_entry(name, meta.version)
        if answer is not None and answer.log is not None:
            reply = answer.for_caller()
        if entry is not None:
            await asyncio.to_thread(log_store.append, entry)
        metrics.requests.labels(name, "ok" if answer is not None and answer.ok else "error").inc()
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
    app.fast_path = (invoke_fast, invoke_limit, admission.refusal)
    app.client_limits = cfg

    return app

"""The KMS and the verifier as an HTTP service (FastAPI).

In the embedded default `veil up` runs this in its own process; in
production it runs on the tenant's premises or in its own TEE. Bodies are
CBOR (`application/cbor`); errors are JSON with the refusal's class name.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from veil.attestation.service import AttestationService
from veil.attestation.sim import WARNING as SIM_WARNING
from veil.kms.broker import KeyBroker
from veil.kms.errors_http import error_response
from veil.trusted.crypto.signing import VerifyKey
from veil.trusted.errors import MalformedMessage, VeilError

CBOR = "application/cbor"
MAX_BODY = 256 * 1024


class TenantIn(BaseModel):
    tenant: str
    key: str
    """Ed25519 public key, hex."""


class AttestIn(BaseModel):
    tee: str
    evidence: str
    binding: str
    nonce: str
    """All base64."""


async def _body(request: Request) -> bytes:
    """The body, or 413 once over `MAX_BODY` (declared or streamed): never buffered past it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, "request body too large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(413, "request body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _b64(name: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise MalformedMessage(f"{name} is not base64") from None


def trust_app(kms: KeyBroker, verifier: AttestationService, admin_token: str) -> FastAPI:
    # As the gateway: /openapi.json only; FastAPI's /docs and /redoc load scripts from a CDN.
    app = FastAPI(title="Veil KMS and verifier", version="1", docs_url=None, redoc_url=None)

    @app.exception_handler(VeilError)
    async def refused(_request: Request, exc: VeilError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def malformed(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """A JSON body that does not parse or lacks a field: 400, like every malformed input."""
        where = "; ".join(
            f"{'.'.join(p for p in e['loc'][1:] if isinstance(p, str)) or 'body'}: {e['msg']}"
            for e in exc.errors()
        )
        return JSONResponse({"error": "MalformedMessage", "detail": where}, status_code=400)

    @app.get("/v1/keys")
    async def keys() -> dict[str, Any]:
        """The keys clients pin: the KMS's (signing; sealing registrations) and the verifier's."""
        return {
            "kms_key": kms.public_key.raw.hex(),
            "kms_seal_key": kms.seal_key.to_json(),
            "verifier_keys": [verifier.key.public.raw.hex()],
            "production": kms.production,
            "warning": None
            if kms.production
            else f"this KMS accepts policies for the {SIM_WARNING}",
        }

    @app.post("/v1/tenants", status_code=201)
    async def add_tenant(
        body: TenantIn, authorization: Annotated[str, Header()] = ""
    ) -> dict[str, str]:
        """Register a tenant's signing key (administrators only)."""
        if not hmac.compare_digest(authorization.encode(), f"Bearer {admin_token}".encode()):
            raise HTTPException(401, "tenant registration needs the KMS admin token")
        try:
            kms.register_tenant(body.tenant, VerifyKey(bytes.fromhex(body.key)))
        except ValueError as exc:  # not hex, or a tenant id the KMS does not accept
            raise MalformedMessage(str(exc)) from None
        return {"tenant": body.tenant}

    @app.post("/v1/functions", status_code=201)
    async def register(request: Request) -> Response:
        """Register a function from a tenant-signed registration; returns the signed record."""
        body = await _body(request)
        return Response(await asyncio.to_thread(kms.register_function, body), media_type=CBOR)

    @app.get("/v1/functions")
    async def names() -> list[str]:
        return kms.function_names()

    @app.get("/v1/functions/{name:path}")
    async def record(name: str) -> Response:
        return Response(kms.function_record(name), media_type=CBOR)

    @app.get("/v1/versions/{name:path}")
    async def versions(name: str) -> Response:
        """The KMS-signed list of the function's retained versions (`VersionList`)."""
        return Response(kms.versions(name), media_type=CBOR)

    @app.post("/v1/remove")
    async def remove(request: Request) -> dict[str, bool]:
        """Remove a function on a tenant-signed removal (`veil.registration.Removal`)."""
        await asyncio.to_thread(kms.remove_function, await _body(request))
        return {"removed": True}

    @app.post("/v1/secrets")
    async def write_secret(request: Request) -> dict[str, object]:
        """A tenant-signed `veil secret set/rm` (straight from the tenant, never the gateway)."""
        entry = await asyncio.to_thread(kms.secrets.write, await _body(request))
        return entry.to_json()

    @app.post("/v1/secrets/list")
    async def list_secrets(request: Request) -> list[dict[str, object]]:
        """A function's secret names and versions for its tenant's signed query; no values."""
        return [e.to_json() for e in kms.secrets.listing(await _body(request))]

    @app.post("/v1/release")
    async def release(request: Request) -> Response:
        """A key grant for an attested enclave, or a refusal."""
        body = await _body(request)
        return Response(await asyncio.to_thread(kms.release, body), media_type=CBOR)

    @app.post("/v1/time")
    async def time_anchor(request: Request) -> Response:
        """The KMS's time signed for an enclave's clock nonce (`veil.trusted.clock`)."""
        return Response(kms.time_anchor(await _body(request)), media_type=CBOR)

    @app.post("/v1/attestation/challenge")
    async def challenge() -> Response:
        return Response(verifier.challenge(), media_type="application/octet-stream")

    @app.post("/v1/attestation/attest")
    async def attest(request: Request) -> dict[str, str]:
        """Appraise evidence (in a thread: verifying a quote chain is milliseconds of CPU)."""
        try:
            body = AttestIn.model_validate_json(await _body(request))
        except ValidationError as exc:
            raise MalformedMessage(
                f"attestation request: {exc.error_count()} bad field(s)"
            ) from None
        token = await asyncio.to_thread(
            verifier.attest,
            body.tee,
            _b64("evidence", body.evidence),
            _b64("binding", body.binding),
            _b64("nonce", body.nonce),
        )
        return {"token": token}

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app

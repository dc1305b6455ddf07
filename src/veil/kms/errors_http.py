"""How the KMS's refusals cross HTTP: a status code and the error class name, never secrets.

The server answers errors as JSON `{"error": <class name>, "detail": <message>}`
with the status `status_for` picks from the refusal's kind; the HTTP client
turns the name back into the class (`veil.kms.errors.rebuild`), so callers
handle a remote KMS exactly like an in-process one.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from veil.attestation.refusals import http_status as status_for
from veil.trusted.errors import VeilError


def error_response(exc: VeilError) -> JSONResponse:
    """The answer the KMS server gives for a refusal: its class name and message."""
    return JSONResponse(
        {"error": type(exc).__name__, "detail": str(exc)}, status_code=status_for(exc)
    )

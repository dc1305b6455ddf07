"""How the gateway answers a refusal over HTTP: a status from the refusal's kind, its class name.

The status is decided by the trusted base classes (and `DispatchError`'s
own status), never by class names, so a refusal relayed from the KMS or an
enclave gets the same answer as one the gateway raised itself. The body
carries the class name and message only; neither ever holds a secret.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from veil.attestation.refusals import http_status
from veil.host.transport import DispatchError
from veil.trusted.errors import VeilError


def status_for(exc: VeilError | DispatchError) -> int:
    """A dispatch error says its own; a refusal gets the status every service gives its kind."""
    return exc.status if isinstance(exc, DispatchError) else http_status(exc)


def is_refusal(exc: VeilError) -> bool:
    """A check said no (4xx), as opposed to a service failing to answer sensibly."""
    return http_status(exc) < 500


def error_answer(
    status: int, kind: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": kind, "detail": detail}, status_code=status, headers=headers)

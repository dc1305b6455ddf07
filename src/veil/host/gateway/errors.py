"""How the gateway answers a refusal over HTTP: a status from the refusal's kind, its class name.

The status is decided by the trusted base classes (and `DispatchError`'s
own status), never by class names, so a refusal relayed from the KMS or an
enclave gets the same answer as one the gateway raised itself. The body
carries the class name and message only; neither ever holds a secret.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from veil.host.transport import DispatchError
from veil.trusted.errors import MalformedMessage, NotFound, Refused, VeilError


def status_for(exc: VeilError | DispatchError) -> int:
    """400 malformed, 404 unknown names, 403 other refusals; a dispatch error says its own."""
    if isinstance(exc, DispatchError):
        return exc.status
    if isinstance(exc, MalformedMessage):
        return 400
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Refused):
        return 403
    return 500


def is_refusal(exc: VeilError) -> bool:
    """A check said no (4xx), as opposed to a service failing to answer sensibly."""
    return isinstance(exc, MalformedMessage | NotFound | Refused)


def error_answer(
    status: int, kind: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": kind, "detail": detail}, status_code=status, headers=headers)

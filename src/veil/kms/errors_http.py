"""How refusals cross HTTP: a status code and the error class name, never secrets.

Services answer errors as JSON `{"error": <class name>, "detail": <message>}`;
remote clients turn them back into the same exception classes, so callers
handle a remote KMS exactly like an in-process one.
"""

from __future__ import annotations

import importlib
from typing import Final

from veil.trusted.errors import MalformedMessage, Refused, VeilError

ERROR_MODULES: Final = (
    "veil.trusted.errors",
    "veil.kms.broker",
    "veil.kms.policy",
    "veil.attestation.errors",
    "veil.attestation.sim",
    "veil.trusted.replay",
    "veil.trusted.enclave",
    "veil.trusted.bundle",
)


class RemoteError(VeilError):
    """A service answered with an error this client does not know by name."""


def status_for(exc: Exception) -> int:
    if isinstance(exc, MalformedMessage):
        return 400
    if isinstance(exc, LookupError) or type(exc).__name__.startswith("Unknown"):
        return 404
    if isinstance(exc, Refused):
        return 403
    return 500


def error_from(name: str, detail: str) -> Exception:
    """Rebuild a refusal raised on the far side of an HTTP call."""
    for module_name in ERROR_MODULES:
        cls = getattr(importlib.import_module(module_name), name, None)
        if isinstance(cls, type) and issubclass(cls, VeilError):
            return cls(detail)
    return RemoteError(f"{name}: {detail}")

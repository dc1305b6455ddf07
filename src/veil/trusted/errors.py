"""Errors shared across the trusted core.

Recipes raise one opaque error per direction to the outside (the host
learns "refused", not which check failed); the subclasses below say more
to tenant-side logs and tests.
"""

from __future__ import annotations

from typing import ClassVar


class VeilError(Exception):
    """Base of every error Veil raises on purpose."""

    public_message: ClassVar[str] = "internal error"
    """All the host learns of this error when it crosses the enclave's edge (`edge`)."""


class Refused(VeilError):
    """Outside input failed a check: not acted on, no tenant code ran (unlike `FunctionError`)."""

    public_message = "refused"


class NotFound(Refused):
    """A request that parses but names something (tenant, function) the service does not hold."""


class MalformedMessage(Refused):
    """Bytes that do not parse as the message they claim to be."""

    public_message = "message does not parse"


class MessageTooLarge(MalformedMessage):
    """A message over its size limit, refused before it is parsed."""

    public_message = "message is over its size limit"


class BadSignature(Refused):
    """A signature that does not verify under the key it must be made with."""

    public_message = "signature does not verify"


class DecryptionFailed(Refused):
    """A sealed payload that does not open: tampered, truncated or sealed to another key."""

    public_message = "sealed payload does not open"


class FunctionError(VeilError):
    """The tenant function ran and failed; the enclave is unharmed and keeps serving."""


class InternalError(VeilError):
    """A failure the enclave does not explain to the host (see `veil.trusted.edge`).

    Contrast with `Refused`, a named check on outside input: this may stem from
    anything, decrypted data included, so it crosses with no detail at all.
    """

"""Errors shared across the trusted core.

Recipes raise one opaque error per direction to the outside (the host
learns "refused", not which check failed); the subclasses below say more
to tenant-side logs and tests.
"""

from __future__ import annotations


class VeilError(Exception):
    """Base of every error Veil raises on purpose."""


class Refused(VeilError):
    """A message from outside the enclave failed a check and was not acted on.

    Contrast with `FunctionError`: a refusal happens before any tenant code
    runs; a function error is the tenant code's own failure.
    """


class NotFound(Refused):
    """A request naming something (tenant, function) the service does not hold.

    Contrast with `MalformedMessage`: the request parses, but names nothing known.
    """


class MalformedMessage(Refused):
    """Bytes that do not parse as the message they claim to be."""


class MessageTooLarge(MalformedMessage):
    """A message over its size limit, refused before it is parsed."""


class BadSignature(Refused):
    """A signature that does not verify under the key it must be made with."""


class DecryptionFailed(Refused):
    """A sealed payload that does not open: tampered, truncated or sealed to another key."""


class FunctionError(VeilError):
    """The tenant function ran and failed; the enclave is unharmed and keeps serving."""

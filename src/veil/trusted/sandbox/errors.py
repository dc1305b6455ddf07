"""What can go wrong inside a sandbox, by cause.

Each is raised after the sandbox has been rewound, so the caller can report
it and keep serving.
"""

from __future__ import annotations

from veil.trusted.errors import FunctionError


class FunctionTimeout(FunctionError):
    """The function used up its fuel or passed its epoch deadline (e.g. an infinite loop)."""


class FunctionOutOfMemory(FunctionError):
    """The function tried to grow its memory beyond the manifest's limit."""


class FunctionTrapped(FunctionError):
    """The function trapped (unreachable, bad memory access, stack overflow, ...)."""


class FunctionFailed(FunctionError):
    """The function ran to completion but reported an error of its own.

    Unlike a trap, the message (and, for Python and JS, the user's
    traceback) comes from the tenant's code and is sealed back to the client.
    """


class ABIViolation(FunctionError):
    """The module broke the Veil ABI: a missing export, an out-of-range output pointer."""

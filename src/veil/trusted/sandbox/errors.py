"""Sandbox failures by cause, each raised after the rewind so the caller can keep serving."""

from __future__ import annotations

from veil.trusted.errors import FunctionError


class FunctionTimeout(FunctionError):
    """The function used up its fuel or passed its epoch deadline (e.g. an infinite loop)."""


class FunctionOutOfMemory(FunctionError):
    """The function tried to grow its memory beyond the manifest's limit."""


class FunctionTrapped(FunctionError):
    """The function trapped (unreachable, bad memory access, stack overflow, ...)."""


class FunctionFailed(FunctionError):
    """The function completed but reported its own error; its text (or traceback) is sealed back."""


class ABIViolation(FunctionError):
    """The module broke the Veil ABI: a missing export, an out-of-range output pointer."""

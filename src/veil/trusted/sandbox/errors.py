"""Sandbox failures by cause, each raised after the rewind so the caller can keep serving."""

from __future__ import annotations

from typing import Final

import wasmtime

from veil.trusted.errors import FunctionError

_TIMEOUTS: Final = {wasmtime.TrapCode.OUT_OF_FUEL, wasmtime.TrapCode.INTERRUPT}


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


def classify(exc: Exception, *, at_memory_limit: bool) -> FunctionError:
    """The typed error for a wasmtime trap or error raised by guest code.

    A failed `memory.grow` is not a trap in Wasm: the guest sees -1 and
    usually traps or spins afterwards. So a function that fails while its
    memory is at the manifest's limit is reported as out of memory. A
    component call reports its trap as a `WasmtimeError` whose last line names it.
    """
    if at_memory_limit:
        return FunctionOutOfMemory("function needed more memory than its manifest allows")
    if isinstance(exc, wasmtime.Trap) and exc.trap_code is not None:
        reason, timeout = exc.trap_code.name.lower(), exc.trap_code in _TIMEOUTS
    else:
        line = str(exc).strip().rsplit("\n", 1)[-1].strip()
        if not line.startswith("wasm trap: "):
            return FunctionTrapped(f"function failed in the engine: {type(exc).__name__}")
        reason = line.removeprefix("wasm trap: ")
        timeout = reason.startswith(("interrupt", "all fuel consumed"))
    if timeout:
        return FunctionTimeout("function ran out of its time or fuel budget")
    return FunctionTrapped(f"function trapped: {reason}")

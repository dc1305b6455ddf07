"""Map wasmtime failures to Veil's typed function errors."""

from __future__ import annotations

import wasmtime

from veil.trusted.errors import FunctionError
from veil.trusted.sandbox.errors import FunctionOutOfMemory, FunctionTimeout, FunctionTrapped

_TIMEOUTS = {wasmtime.TrapCode.OUT_OF_FUEL, wasmtime.TrapCode.INTERRUPT}


def classify(exc: Exception, *, at_memory_limit: bool) -> FunctionError:
    """The typed error for a wasmtime trap or error raised by guest code.

    A failed `memory.grow` is not a trap in Wasm: the guest sees -1 and
    usually traps or spins afterwards. So a function that fails while its
    memory is at the manifest's limit is reported as out of memory.
    """
    code = exc.trap_code if isinstance(exc, wasmtime.Trap) else None
    if at_memory_limit:
        return FunctionOutOfMemory("function needed more memory than its manifest allows")
    if code in _TIMEOUTS:
        return FunctionTimeout("function ran out of its time or fuel budget")
    if code is not None:
        return FunctionTrapped(f"function trapped: {code.name.lower()}")
    return FunctionTrapped(f"function failed in the engine: {type(exc).__name__}")

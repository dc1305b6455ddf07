"""Wasm sandboxes inside the enclave: limits, snapshot and rewind.

Every runtime (raw Wasm reactor, WASI command, Python component, QuickJS)
implements `Sandbox`: invoke with bytes in, `Output` out, and afterwards the
instance is back at its post-init snapshot, so no byte of one request is
visible to the next. `load_sandbox` picks the runtime from the manifest.
"""

from veil.trusted.sandbox.api import Output, Sandbox
from veil.trusted.sandbox.errors import (
    ABIViolation,
    FunctionFailed,
    FunctionOutOfMemory,
    FunctionTimeout,
    FunctionTrapped,
)

__all__ = [
    "ABIViolation",
    "FunctionFailed",
    "FunctionOutOfMemory",
    "FunctionTimeout",
    "FunctionTrapped",
    "Output",
    "Sandbox",
]

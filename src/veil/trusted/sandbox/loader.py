"""Pick the sandbox runtime a bundle's manifest names, from a typed table (not import strings)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from veil.trusted.bundle import Bundle
from veil.trusted.sandbox.api import Sandbox
from veil.trusted.sandbox.command import CommandSandbox
from veil.trusted.sandbox.engine import SandboxEngine
from veil.trusted.sandbox.errors import ABIViolation
from veil.trusted.sandbox.python_component import PythonSandbox
from veil.trusted.sandbox.quickjs import QuickJsSandbox
from veil.trusted.sandbox.reactor import ReactorSandbox

RUNTIMES: Final[Mapping[tuple[str, str], Callable[[SandboxEngine, Bundle], Sandbox]]] = {
    ("wasm", "reactor"): ReactorSandbox,
    ("wasm", "wasi-command"): CommandSandbox,
    ("js", "quickjs"): QuickJsSandbox,
    ("python", "component"): PythonSandbox,
}
"""(runtime, ABI) to the sandbox that runs it."""


def load_sandbox(engine: SandboxEngine, bundle: Bundle) -> Sandbox:
    """Compile (once per digest), instantiate and snapshot the bundle's code."""
    key = (bundle.manifest.runtime, bundle.manifest.abi)
    runtime = RUNTIMES.get(key)
    if runtime is None:
        known = ", ".join(sorted(f"{r}/{a}" for r, a in RUNTIMES))
        raise ABIViolation(f"this enclave has no runtime for {key[0]}/{key[1]}; known: {known}")
    return runtime(engine, bundle)

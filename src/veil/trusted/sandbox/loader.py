"""Pick the sandbox runtime a bundle's manifest names."""

from __future__ import annotations

import importlib

from veil.trusted.bundle import Bundle
from veil.trusted.sandbox.api import Sandbox
from veil.trusted.sandbox.engine import SandboxEngine
from veil.trusted.sandbox.errors import ABIViolation

RUNTIMES: dict[tuple[str, str], str] = {
    ("wasm", "reactor"): "veil.trusted.sandbox.reactor:ReactorSandbox",
    ("wasm", "wasi-command"): "veil.trusted.sandbox.command:CommandSandbox",
    ("js", "quickjs"): "veil.trusted.sandbox.quickjs:QuickJsSandbox",
    ("python", "component"): "veil.trusted.sandbox.python_component:PythonSandbox",
}
"""(runtime, ABI) to "module:class"; each class takes (engine, bundle)."""


def load_sandbox(engine: SandboxEngine, bundle: Bundle) -> Sandbox:
    """Compile (once per digest), instantiate and snapshot the bundle's code."""
    key = (bundle.manifest.runtime, bundle.manifest.abi)
    target = RUNTIMES.get(key)
    if target is None:
        raise ABIViolation(f"this enclave has no runtime for {key[0]}/{key[1]}")
    module_name, _, cls_name = target.partition(":")
    sandbox: Sandbox = getattr(importlib.import_module(module_name), cls_name)(engine, bundle)
    return sandbox

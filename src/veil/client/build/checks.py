"""Refuse at build and deploy time what an enclave would refuse at its first request.

A bundle that is not a bundle, or a module without the exports its ABI
needs (`memory`, `veil_alloc`, the entrypoint; `_start` for a WASI
command), would deploy fine and then fail every invocation with an error
the user only sees after a cold start. So the build loads the code into
the same sandbox the enclave runs (`veil.trusted.sandbox.loader`), with the
manifest's limits, and `veil deploy FILE` does the same for a bundle file.
A WASI command is instantiated only per request, so its `_start` is
looked up in its exports. A Python component is only checked for being
a component: loading one compiles CPython (seconds), and only `veil build`
makes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from veil.client.build.manifest import BuildError
from veil.trusted.bundle import Bundle
from veil.trusted.errors import MalformedMessage, VeilError

COMPONENT_HEADER: Final = b"\x00asm\x0d\x00\x01\x00"
"""The preamble of a WebAssembly component (layer 1), as componentize-py writes it."""


def read_bundle(path: Path) -> Bundle:
    """The bundle in file `path`, checked as a build would check it."""
    try:
        bundle = Bundle.from_bytes(path.read_bytes())
    except MalformedMessage as exc:
        raise BuildError(
            f"{path} is not a Veil bundle ({exc}); deploy a project directory, "
            "or a file `veil build` wrote"
        ) from None
    check_loads(bundle, path)
    return bundle


def check_loads(bundle: Bundle, where: Path | str | None = None) -> None:
    """Load `bundle` into the enclave's sandbox once; `BuildError` naming what is wrong."""
    shown = where or bundle.manifest.name
    if bundle.manifest.runtime == "python":
        if not bundle.code.startswith(COMPONENT_HEADER):
            raise BuildError(f"{shown}: the code of a Python bundle must be a Wasm component")
        return
    from veil.trusted.sandbox.engine import SandboxEngine
    from veil.trusted.sandbox.loader import load_sandbox

    engine = SandboxEngine()
    try:
        load_sandbox(engine, bundle).close()
    except VeilError as exc:
        raise BuildError(f"{shown} does not load: {exc}", detail=str(exc)) from None
    finally:
        engine.close()
    if bundle.manifest.abi == "wasi-command" and "_start" not in _exports(bundle.code):
        raise BuildError(f"{shown} does not load: a WASI command must export _start")


def _exports(code: bytes) -> set[str]:
    """The names a core module exports (a WASI command is instantiated only per request)."""
    import wasmtime

    return {export.name for export in wasmtime.Module(wasmtime.Engine(), code).exports}

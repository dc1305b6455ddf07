"""Build a raw WebAssembly function: its module, assembled from `.wat` text or taken as is."""

from __future__ import annotations

import wasmtime

from veil.client.build.manifest import BuildError, Project


def wasm_code(project: Project) -> bytes:
    """The module `project.source` names (`main.wat` by default)."""
    source = project.path / project.source
    if not source.is_file():
        raise BuildError(f"source {source} does not exist")
    if source.suffix != ".wat":
        return source.read_bytes()
    try:
        return bytes(wasmtime.wat2wasm(source.read_text("utf-8")))
    except wasmtime.WasmtimeError as exc:
        raise BuildError(f"{source}: {exc}") from None

"""Build a raw WebAssembly function: its module, assembled from `.wat` text or taken as is.

Either way the module is loaded into the enclave's sandbox once
(`checks.check_loads`), so a module without the exports its ABI needs
fails the build, not its first invocation.
"""

from __future__ import annotations

import wasmtime

from veil.client.build.checks import check_loads
from veil.client.build.manifest import BuildError, Project
from veil.trusted.bundle import Bundle


def wasm_code(project: Project) -> bytes:
    """The module `project.source` names (`main.wat` by default), checked by loading it."""
    source = project.path / project.source
    if not source.is_file():
        raise BuildError(f"source {source} does not exist")
    if source.suffix != ".wat":
        code = source.read_bytes()
    else:
        try:
            code = bytes(wasmtime.wat2wasm(source.read_text("utf-8")))
        except wasmtime.WasmtimeError as exc:
            raise BuildError(f"{source}: {exc}") from None
    check_loads(Bundle(project.manifest(), code), source)
    return code

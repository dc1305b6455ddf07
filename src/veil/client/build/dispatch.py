"""The one way a project directory becomes a bundle: `veil build`, the demo, the bench and tests.

`veil.toml` names the runtime; `BUILDERS` maps it to the function that
turns the project's source into the bundle's code. A typed table, so a
builder with the wrong signature is a type error, not a runtime surprise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from veil.client.build.cache import BuildCache
from veil.client.build.js import js_code
from veil.client.build.manifest import Project, Runtime, read_project
from veil.client.build.python import python_code
from veil.client.build.wasm import wasm_code
from veil.trusted.bundle import Bundle

BUILDERS: Final[Mapping[Runtime, Callable[[Project], bytes]]] = {
    "wasm": wasm_code,
    "python": python_code,
    "js": js_code,
}
"""runtime -> (project settings) -> the bundle's code; `read_project` refuses any other runtime."""


def build(src_dir: Path, tenant: str | None = None, *, cache: BuildCache | None = None) -> Bundle:
    """Build the project in `src_dir` with the builder its runtime names.

    `tenant` prefixes a bare function name, as `veil build` and `veil deploy` do.
    `cache` reuses a Python build whose inputs did not change (the others take
    milliseconds and are always rebuilt).
    """
    project = read_project(Path(src_dir))
    manifest = project.manifest(tenant)  # refuse bad settings before a slow build
    if cache is not None and project.runtime == "python":
        return Bundle(manifest, python_code(project, cache=cache))
    return Bundle(manifest, BUILDERS[project.runtime](project))

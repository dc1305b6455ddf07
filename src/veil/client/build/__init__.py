"""Tenant-side builds: scaffold a function, turn its source into a bundle.

`build(src_dir)` picks the language from `veil.toml` (or the files present);
`build_python` and `build_js` are the per-language builders.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from veil.client.build.js import build_js
from veil.client.build.manifest import (
    MANIFEST_FILE,
    BuildError,
    BuildNotReproducible,
    load_manifest,
)
from veil.client.build.python import build_python
from veil.client.build.scaffold import scaffold
from veil.trusted.bundle import Bundle

__all__ = [
    "BuildError",
    "BuildNotReproducible",
    "build",
    "build_js",
    "build_python",
    "load_manifest",
    "scaffold",
]


def build(src_dir: Path) -> Bundle:
    """Build the function in `src_dir` with the builder its runtime names."""
    src_dir = Path(src_dir)
    runtime = None
    manifest = src_dir / MANIFEST_FILE
    if manifest.exists():
        doc = tomllib.loads(manifest.read_text("utf-8"))
        runtime = doc.get("function", {}).get("runtime")
    if runtime is None:
        runtime = "js" if (src_dir / "handler.js").exists() else "python"
    if runtime == "python":
        return build_python(src_dir)
    if runtime == "js":
        return build_js(src_dir)
    raise BuildError(f"{src_dir}: runtime {runtime!r} is not built from source")

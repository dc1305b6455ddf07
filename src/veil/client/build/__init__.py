"""Tenant-side builds: scaffold a function, turn its project directory into a bundle.

`build(src_dir)` is the one build path (`veil build`, the demo, the bench
and the tests all call it): `manifest.read_project` parses `veil.toml`, and
`dispatch.BUILDERS` picks the builder its runtime names. `scaffold` writes
a new project that `build` accepts.
"""

from __future__ import annotations

from veil.client.build.dispatch import BUILDERS, build
from veil.client.build.manifest import (
    MANIFEST_FILE,
    BuildError,
    BuildNotReproducible,
    InvalidVeilToml,
    Project,
    parse_project,
    read_project,
)
from veil.client.build.scaffold import scaffold

__all__ = [
    "BUILDERS",
    "MANIFEST_FILE",
    "BuildError",
    "BuildNotReproducible",
    "InvalidVeilToml",
    "Project",
    "build",
    "parse_project",
    "read_project",
    "scaffold",
]

"""Tenant-side builds: scaffold a function, turn its project directory into a bundle.

`build(src_dir)` is the one build path (`veil build`, the demo, the bench
and the tests all call it): `manifest.read_project` parses `veil.toml`, and
`dispatch.BUILDERS` picks the builder its runtime names. `scaffold` writes
a new project that `build` accepts. `checks` refuses, at build and deploy
time, code an enclave could not load; `cache` reuses unchanged Python builds.
"""

from __future__ import annotations

from veil.client.build.cache import BuildCache
from veil.client.build.checks import check_loads, read_bundle
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
    "BuildCache",
    "BuildError",
    "BuildNotReproducible",
    "InvalidVeilToml",
    "Project",
    "build",
    "check_loads",
    "parse_project",
    "read_bundle",
    "read_project",
    "scaffold",
]

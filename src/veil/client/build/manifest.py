"""`veil.toml`: a function's name, runtime and limits, read into a `Manifest`.

    name = "hello"
    version = "0.1.0"
    runtime = "python"        # or "js"
    entrypoint = "app:handle" # python: module:function; js: the handler file
    capture_logs = true

    [limits]
    memory_pages = 1024       # 64 KiB pages
    fuel = 400000000
    timeout_ms = 2000

Anything left out takes the runtime's default below.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any, Final

from veil.trusted.bundle import Limits, Manifest

MANIFEST_FILE: Final = "veil.toml"

DEFAULTS: Final[dict[str, dict[str, Any]]] = {
    "python": {
        "abi": "component",
        "entrypoint": "app:handle",
        "limits": {"memory_pages": 1024, "fuel": 1_000_000_000},
    },
    "js": {
        "abi": "quickjs",
        "entrypoint": "handler.js",
        "limits": {"memory_pages": 256, "fuel": 400_000_000},
    },
}
"""Per-runtime defaults: CPython needs far more memory and fuel than QuickJS."""


class BuildError(Exception):
    """The function's source cannot be built into a bundle (the message says why)."""


def load_manifest(src_dir: Path, runtime: str) -> Manifest:
    """Read `src_dir/veil.toml` (optional) into a manifest for `runtime`."""
    path = src_dir / MANIFEST_FILE
    raw: dict[str, Any] = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise BuildError(f"{path}: {exc}") from None
    if raw.get("runtime", runtime) != runtime:
        raise BuildError(f"{path} says runtime {raw['runtime']!r}, not {runtime!r}")
    defaults = DEFAULTS[runtime]
    known = {f.name for f in fields(Limits)}
    limits_raw = {**defaults["limits"], **raw.get("limits", {})}
    unknown = set(limits_raw) - known
    if unknown:
        raise BuildError(f"{path}: unknown limits {sorted(unknown)}")
    return Manifest(
        name=str(raw.get("name", src_dir.resolve().name)),
        version=str(raw.get("version", "0.1.0")),
        runtime=runtime,
        abi=defaults["abi"],
        entrypoint=str(raw.get("entrypoint", defaults["entrypoint"])),
        limits=Limits(**limits_raw),
        capture_logs=bool(raw.get("capture_logs", False)),
    )


def render_manifest(name: str, runtime: str) -> str:
    """The `veil.toml` a new function starts with."""
    defaults = DEFAULTS[runtime]
    limits = {**{f.name: f.default for f in fields(Limits)}, **defaults["limits"]}
    lines = [
        f'name = "{name}"',
        'version = "0.1.0"',
        f'runtime = "{runtime}"',
        f'entrypoint = "{defaults["entrypoint"]}"',
        "capture_logs = true",
        "",
        "[limits]",
        *(f"{key} = {value}" for key, value in limits.items()),
    ]
    return "\n".join(lines) + "\n"

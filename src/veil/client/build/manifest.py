"""`veil.toml` for Python and JavaScript functions, in the project format of `veil.client.project`.

    [function]
    name = "hello"
    version = "0.1.0"
    runtime = "python"        # or "js"
    entrypoint = "app:handle" # python: module:function; js: the exported function
    source = "handler.js"     # js only: the handler module
    capture_logs = true

    [limits]
    memory_pages = 1024       # 64 KiB pages
    fuel = 1000000000
    timeout_ms = 2000

Anything left out takes the runtime's default below (CPython needs far
more memory and fuel than QuickJS, and both more than a raw Wasm module).
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any, Final

from veil.trusted.bundle import Limits, Manifest

MANIFEST_FILE: Final = "veil.toml"
WASM_ENTRYPOINT: Final = "veil_invoke"
"""The project format's default entrypoint (raw Wasm); Python and JS replace it."""

DEFAULTS: Final[dict[str, dict[str, Any]]] = {
    "python": {
        "abi": "component",
        "entrypoint": "app:handle",
        "source": "app.py",
        "limits": {"memory_pages": 1024, "fuel": 1_000_000_000, "timeout_ms": 2000},
    },
    "js": {
        "abi": "quickjs",
        "entrypoint": "handle",
        "source": "handler.js",
        "limits": {"memory_pages": 256, "fuel": 400_000_000, "timeout_ms": 2000},
    },
}


class BuildError(ValueError):
    """The function's source cannot be built into a bundle (the message says what to fix)."""


class BuildNotReproducible(UserWarning):
    """The bundle was built, but a rebuild of the same source would not give the same digest."""


def runtime_limits(runtime: str, overrides: dict[str, int]) -> Limits:
    """The runtime's default limits with the project's `[limits]` on top."""
    known = {f.name for f in fields(Limits)}
    unknown = set(overrides) - known
    if unknown:
        raise BuildError(f"unknown limits {sorted(unknown)}")
    return Limits(**{**DEFAULTS.get(runtime, {}).get("limits", {}), **overrides})


def entrypoint(runtime: str, value: str | None) -> str:
    """The project's entrypoint, or the runtime's default when it names the Wasm one."""
    if not value or value == WASM_ENTRYPOINT:
        default: str = DEFAULTS[runtime]["entrypoint"]
        return default
    return value


def load_manifest(src_dir: Path, runtime: str) -> tuple[Manifest, str]:
    """Read `src_dir/veil.toml` (optional) into a manifest for `runtime` and its source file."""
    path = src_dir / MANIFEST_FILE
    doc: dict[str, Any] = {}
    if path.exists():
        try:
            doc = tomllib.loads(path.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise BuildError(f"{path}: {exc}") from None
    fn: dict[str, Any] = doc.get("function", {})
    if fn.get("runtime", runtime) != runtime:
        raise BuildError(f"{path} says runtime {fn['runtime']!r}, not {runtime!r}")
    defaults = DEFAULTS[runtime]
    try:
        limits = runtime_limits(runtime, dict(doc.get("limits", {})))
    except BuildError as exc:
        raise BuildError(f"{path}: {exc}") from None
    manifest = Manifest(
        name=str(fn.get("name", src_dir.resolve().name)),
        version=str(fn.get("version", "0.1.0")),
        runtime=runtime,
        abi=defaults["abi"],
        entrypoint=entrypoint(runtime, fn.get("entrypoint")),
        limits=limits,
        suite=str(fn.get("suite", "x25519")),
        capture_logs=bool(fn.get("capture_logs", False)),
    )
    return manifest, str(fn.get("source", defaults["source"]))


def render_manifest(name: str, runtime: str) -> str:
    """The `veil.toml` a new function starts with."""
    defaults = DEFAULTS[runtime]
    source = f'source = "{defaults["source"]}"\n' if runtime == "js" else ""
    limits = "".join(f"{key} = {value}\n" for key, value in defaults["limits"].items())
    return (
        "[function]\n"
        f'name = "{name}"\n'
        'version = "0.1.0"\n'
        f'runtime = "{runtime}"\n'
        f'entrypoint = "{defaults["entrypoint"]}"\n'
        f"{source}"
        "capture_logs = true\n"
        "\n[limits]\n"
        f"{limits}"
    )

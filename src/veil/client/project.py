"""A function project on disk: `veil.toml` plus source, built into a bundle.

[function]
name = "hello"            # the tenant prefix ("acme/") is added on deploy
version = "0.1.0"
runtime = "wasm"          # wasm | python | js
abi = "reactor"           # wasm: reactor | wasi-command
source = "main.wat"       # .wat or .wasm for wasm

[limits]                  # optional; defaults in veil.trusted.bundle.Limits
memory_pages = 16
timeout_ms = 1000
"""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime

from veil.trusted.bundle import Bundle, Limits, Manifest

MANIFEST_FILE = "veil.toml"
BUILDERS: dict[str, str] = {
    "python": "veil.client.build.python:python_code",
    "js": "veil.client.build.js:js_code",
}
"""runtime -> "module:function(project_dir, manifest) -> code bytes", for non-wasm runtimes."""


class ProjectError(ValueError):
    """A function project that cannot be built, with what to fix."""


@dataclass(frozen=True)
class Project:
    path: Path
    name: str
    version: str
    runtime: str = "wasm"
    abi: str = "reactor"
    source: str = "main.wat"
    entrypoint: str = "veil_invoke"
    suite: str = "x25519"
    capture_logs: bool = False
    limits: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Project:
        file = path / MANIFEST_FILE
        if not file.exists():
            raise ProjectError(f"no {MANIFEST_FILE} in {path}: create one with `veil new NAME`")
        try:
            doc = tomllib.loads(file.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ProjectError(f"{file}: {exc}") from None
        fn: dict[str, Any] = doc.get("function", {})
        if "name" not in fn or "version" not in fn:
            raise ProjectError(f"{file}: [function] needs name and version")
        known = {
            "name",
            "version",
            "runtime",
            "abi",
            "source",
            "entrypoint",
            "suite",
            "capture_logs",
        }
        unknown = set(fn) - known
        if unknown:
            raise ProjectError(f"{file}: unknown [function] keys {sorted(unknown)}")
        return cls(path=path, limits=dict(doc.get("limits", {})), **fn)

    def manifest(self, tenant: str) -> Manifest:
        name = self.name if "/" in self.name else f"{tenant}/{self.name}"
        defaults = {"abi": {"python": "component", "js": "quickjs"}.get(self.runtime, self.abi)}
        entry, limits = self.entrypoint, Limits(**self.limits)
        if self.runtime in ("python", "js"):
            # CPython and QuickJS need other limits and entrypoints than a raw module.
            from veil.client.build.manifest import entrypoint, runtime_limits

            entry = entrypoint(self.runtime, entry)
            limits = runtime_limits(self.runtime, self.limits)
        return Manifest(
            name=name,
            version=self.version,
            runtime=self.runtime,
            abi=defaults["abi"] if self.runtime != "wasm" else self.abi,
            entrypoint=entry,
            limits=limits,
            suite=self.suite,
            capture_logs=self.capture_logs,
        )

    def build(self, tenant: str) -> Bundle:
        manifest = self.manifest(tenant)
        return Bundle(manifest, self._code(manifest))

    def _code(self, manifest: Manifest) -> bytes:
        if self.runtime == "wasm":
            source = self.path / self.source
            if not source.exists():
                raise ProjectError(f"source {source} does not exist")
            if source.suffix == ".wat":
                try:
                    return wasmtime.wat2wasm(source.read_text())
                except wasmtime.WasmtimeError as exc:
                    raise ProjectError(f"{source}: {exc}") from None
            return source.read_bytes()
        target = BUILDERS.get(self.runtime)
        if target is None:
            raise ProjectError(f"no builder for runtime {self.runtime!r}")
        module_name, _, fn_name = target.partition(":")
        code: bytes = getattr(importlib.import_module(module_name), fn_name)(self.path, manifest)
        return code


WASM_TEMPLATE = """\
;; {name}: a Veil function in WebAssembly text. Replies "hello, <input>".
(module
  (memory (export "memory") 1)
  (data (i32.const 0) "hello, ")
  (global $heap (mut i32) (i32.const 1024))
  (func $alloc (export "veil_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "veil_invoke") (param $p i32) (param $n i32) (result i64)
    (local $out i32)
    (local.set $out (call $alloc (i32.add (local.get $n) (i32.const 7))))
    (memory.copy (local.get $out) (i32.const 0) (i32.const 7))
    (memory.copy (i32.add (local.get $out) (i32.const 7)) (local.get $p) (local.get $n))
    (i64.or (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
            (i64.extend_i32_u (i32.add (local.get $n) (i32.const 7))))))
"""

TOML_TEMPLATE = """\
[function]
name = "{name}"
version = "0.1.0"
runtime = "{runtime}"
{extra}
[limits]
memory_pages = 16
timeout_ms = 1000
"""

SCAFFOLDS: dict[str, str] = {
    "python": "veil.client.build.scaffold:scaffold_python",
    "js": "veil.client.build.scaffold:scaffold_js",
}
"""lang -> "module:function(name: str, dest: Path) -> None" for non-wasm languages."""


def scaffold(name: str, dest: Path, lang: str = "wasm") -> Path:
    if dest.exists() and any(dest.iterdir()):
        raise ProjectError(f"{dest} exists and is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    if lang == "wasm":
        (dest / "main.wat").write_text(WASM_TEMPLATE.format(name=name))
        extra = 'abi = "reactor"\nsource = "main.wat"\n'
        (dest / MANIFEST_FILE).write_text(
            TOML_TEMPLATE.format(name=name, runtime="wasm", extra=extra)
        )
        return dest
    target = SCAFFOLDS.get(lang)
    if target is None:
        raise ProjectError(f"unknown language {lang!r}: choose wasm, python or js")
    module_name, _, fn_name = target.partition(":")
    getattr(importlib.import_module(module_name), fn_name)(name, dest)
    return dest

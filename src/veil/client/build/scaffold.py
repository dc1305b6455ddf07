"""`veil new [--lang wasm|python|js] NAME`: a new function's starting files, the one scaffold.

The CLI, the demo and the tests all start functions here, so what `veil new`
writes is what the tests build.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from veil.client.build.manifest import DEFAULTS, MANIFEST_FILE, BuildError, Runtime

LANGS: Final[Mapping[str, Runtime]] = {
    "wasm": "wasm",
    "wat": "wasm",
    "python": "python",
    "py": "python",
    "js": "js",
    "javascript": "js",
}
"""What `--lang` accepts, to the runtime it names."""

WASM_MODULE: Final = """\
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

PYTHON_APP: Final = '''"""The {name} function. Run `veil build` to make a bundle of it.

Import everything at the top: the build runs this module once and bundles
exactly the modules imported by then (an import inside `handle` of a module
not imported here fails at run time).
"""

from veil_function import Request, Response


def handle(request: Request) -> Response:
    """Called once per request; module-level state never survives a request."""
    if request.body.startswith(b"{{"):
        return Response.json({{"received": request.json()}})
    return Response.text(f"hello, {{request.text() or 'world'}}!")
'''

JS_HANDLER: Final = """// The {name} function. Run `veil build` to make a bundle of it.
// `Request` and `Response` are globals; `handle` may be async.

export async function handle(request) {{
  const text = request.text();
  if (text.startsWith("{{")) {{
    return Response.json({{ received: request.json() }});
  }}
  return Response.text(`hello, ${{text || "world"}}!`);
}}
"""


REQUIREMENTS_TXT: Final = (
    "# Pure-Python dependencies, vendored with:\n"
    "#   pip install --target vendor -r requirements.txt\n"
)
_WASM_LIMITS: Final = {"memory_pages": 16, "timeout_ms": 1000}
"""A raw module needs little; written out so the new project shows where limits go."""


def _wasm(name: str) -> dict[str, str]:
    return {"main.wat": WASM_MODULE.format(name=name)}


def _python(name: str) -> dict[str, str]:
    return {"app.py": PYTHON_APP.format(name=name), "requirements.txt": REQUIREMENTS_TXT}


def _js(name: str) -> dict[str, str]:
    return {"handler.js": JS_HANDLER.format(name=name)}


SOURCES: Final[Mapping[Runtime, Callable[[str], dict[str, str]]]] = {
    "wasm": _wasm,
    "python": _python,
    "js": _js,
}
"""runtime -> (function name) -> {file name: text}, besides `veil.toml`."""


def scaffold(name: str, dest: Path, lang: str = "wasm") -> list[Path]:
    """Write a new function named `name` in `lang` into `dest`; return the files written.

    Refuses to overwrite any file, so `veil new` never clobbers a project.
    """
    runtime = LANGS.get(lang.lower())
    if runtime is None:
        raise BuildError(f"unknown language {lang!r}; known: {', '.join(sorted(LANGS))}")
    dest = Path(dest)
    files = {MANIFEST_FILE: render_manifest(name, runtime), **SOURCES[runtime](name)}
    existing = [dest / f for f in files if (dest / f).exists()]
    if existing:
        raise BuildError(f"{existing[0]} already exists")
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, text in files.items():
        path = dest / filename
        path.write_text(text, "utf-8")
        written.append(path)
    return written


def render_manifest(name: str, runtime: Runtime) -> str:
    """The `veil.toml` a new function starts with: every default written out."""
    defaults = DEFAULTS[runtime]
    lines = [
        "[function]",
        f'name = "{name}"',
        'version = "0.1.0"',
        f'runtime = "{runtime}"',
        *([f'abi = "{defaults["abi"]}"'] if runtime == "wasm" else []),
        f'entrypoint = "{defaults["entrypoint"]}"',
        *([f'source = "{defaults["source"]}"'] if runtime != "python" else []),
        *(["capture_logs = true"] if runtime != "wasm" else []),
        "",
        "[limits]",
        *(f"{k} = {v}" for k, v in (defaults["limits"] or _WASM_LIMITS).items()),
    ]
    return "\n".join(lines) + "\n"

"""`veil new [--lang wasm|python|js] NAME`: a new function's starting files, the one scaffold.

The CLI, the demo and the tests all start functions here, so what `veil new`
writes is what the tests build.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Final

from veil.client.build.manifest import DEFAULTS, MANIFEST_FILE, BuildError, Runtime
from veil.trusted.bundle import Limits

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
;; The sandbox asks veil_alloc for room for the input, then calls veil_invoke;
;; every request starts from the same snapshot, so the heap never needs freeing.
(module
  (memory (export "memory") 1)
  (data (i32.const 0) "hello, ")
  (global $heap (mut i32) (i32.const 1024))
  (func $alloc (export "veil_alloc") (param $n i32) (result i32)
    (local $p i32) (local $end i32)
    (local.set $p (global.get $heap))
    (local.set $end (i32.add (local.get $p) (local.get $n)))
    ;; grow the memory to hold [p, end): up to the limit in veil.toml, else trap
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.lt_s
              (memory.grow (i32.sub (i32.shr_u (i32.add (local.get $end) (i32.const 65535))
                                               (i32.const 16))
                                    (memory.size)))
              (i32.const 0))
          (then unreachable))))
    (global.set $heap (local.get $end))
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
SCAFFOLD_LIMITS: Final[Mapping[Runtime, dict[str, int]]] = {
    "wasm": {"memory_pages": 64, "timeout_ms": 1000, "max_output": 2 * 1024 * 1024},
    "python": {"max_output": 2 * 1024 * 1024},
    "js": {},
}
"""A new function's limits over its runtime's defaults. Its replies wrap its input
("hello, ..."), so they get room past the input limit; a raw module needs little
memory besides room for one input and one output (3 MiB of its 4)."""
LIMIT_NOTES: Final[Mapping[Runtime, dict[str, str]]] = {
    "wasm": {},
    "python": {},
    "js": {
        "max_input": "QuickJS's text() and Response.text() cost ~5000 fuel a byte; for 1 MiB\n"
        "# inputs"
        " set max_input = 1048576, fuel = 6000000000, memory_pages = 512, timeout_ms = 5000",
    },
}
"""Comments written above a limit in a new `veil.toml`, where a default needs explaining."""


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
        *(_limit(runtime, key, value) for key, value in asdict(scaffold_limits(runtime)).items()),
        "",
        "# Plain values the function reads with variable(name); the host can read them too.",
        "# Secrets go to the KMS instead: `veil secret set FUNCTION NAME` (docs/functions.md).",
        "[config]",
    ]
    return "\n".join(lines) + "\n"


def scaffold_limits(runtime: Runtime) -> Limits:
    """The limits a new function of `runtime` starts with: its defaults, then `SCAFFOLD_LIMITS`."""
    return Limits(**{**DEFAULTS[runtime]["limits"], **SCAFFOLD_LIMITS[runtime]})


def _limit(runtime: Runtime, key: str, value: int) -> str:
    note = LIMIT_NOTES[runtime].get(key)
    return (f"# {note}\n" if note else "") + f"{key} = {value}"

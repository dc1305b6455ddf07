"""`veil new --lang python|js NAME`: a new function's starting files."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from veil.client.build.manifest import MANIFEST_FILE, BuildError, render_manifest

LANGS: Final = {"python": "python", "py": "python", "js": "js", "javascript": "js"}

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


def scaffold_python(name: str, dest: Path) -> None:
    """The `veil.client.project` scaffold hook for `veil new --lang python`."""
    scaffold("python", name, dest)


def scaffold_js(name: str, dest: Path) -> None:
    """The `veil.client.project` scaffold hook for `veil new --lang js`."""
    scaffold("js", name, dest)


def scaffold(lang: str, name: str, dest: Path) -> list[Path]:
    """Write a new function named `name` in `lang` into `dest`; return the files written.

    Refuses to overwrite existing files.
    """
    runtime = LANGS.get(lang.lower())
    if runtime is None:
        raise BuildError(f"unknown language {lang!r}; use python or js")
    dest = Path(dest)
    files = {MANIFEST_FILE: render_manifest(name, runtime)}
    if runtime == "python":
        files["app.py"] = PYTHON_APP.format(name=name)
        files["requirements.txt"] = (
            "# Pure-Python dependencies, vendored with:\n"
            "#   pip install --target vendor -r requirements.txt\n"
        )
    else:
        files["handler.js"] = JS_HANDLER.format(name=name)
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

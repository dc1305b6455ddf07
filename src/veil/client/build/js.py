"""Build a JavaScript function into a bundle: the code is the handler's source.

The QuickJS-NG engine and the prelude (`Request`, `Response`, `console`)
belong to the enclave's measured runtime, not to the bundle, so the bundle
is just the manifest and the handler module's UTF-8 text: reproducible by
construction. The build loads the bundle into the same QuickJS sandbox the
enclave uses, so a syntax error, a throwing module body or a missing
`handle` export fails the build, not the deploy.
"""

from __future__ import annotations

from pathlib import Path

from veil.client.build.checks import check_loads
from veil.client.build.guest_errors import js_message
from veil.client.build.manifest import BuildError, Project
from veil.trusted.bundle import Bundle


def js_code(project: Project) -> bytes:
    """The handler source `project.source` names, checked by loading it into the sandbox."""
    source = project.path / project.source
    code = _source(source)
    _check(Bundle(project.manifest(), code), source)
    return code


def _source(handler: Path) -> bytes:
    if not handler.is_file():
        raise BuildError(f"no handler file {handler}")
    raw = handler.read_bytes()
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BuildError(f"{handler} is not UTF-8") from None
    if "export" not in source:
        raise BuildError(f"{handler} must `export function handle(request)`")
    return source.replace("\r\n", "\n").encode("utf-8")


def _check(bundle: Bundle, source: Path) -> None:
    try:
        check_loads(bundle, source)
    except BuildError as exc:
        raise BuildError(f"{source} does not load: {js_message(exc.detail, source)}") from None

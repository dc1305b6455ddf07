"""Build a JavaScript function into a bundle: the code is the handler's source.

The QuickJS-NG engine and the prelude (`Request`, `Response`, `console`)
belong to the enclave's measured runtime, not to the bundle, so the bundle
is just the manifest and the handler module's UTF-8 text: reproducible by
construction. With `check` (the default) the build loads the bundle into
the same QuickJS sandbox the enclave uses, so a syntax error, a throwing
module body or a missing `handle` export fails the build, not the deploy.
"""

from __future__ import annotations

from pathlib import Path

from veil.client.build.manifest import BuildError, load_manifest
from veil.trusted.bundle import Bundle, Manifest


def build_js(src_dir: Path, *, check: bool = True) -> Bundle:
    """Build the JavaScript function in `src_dir` (`handler.js`, optional `veil.toml`)."""
    src_dir = Path(src_dir)
    manifest, source = load_manifest(src_dir, "js")
    bundle = Bundle(manifest, _source(src_dir / source))
    if check:
        _check(bundle)
    return bundle


def js_code(src_dir: Path, manifest: Manifest) -> bytes:
    """The handler source named by `src_dir/veil.toml`, checked by loading it.

    This is the `veil.client.project` builder hook for runtime "js".
    """
    src_dir = Path(src_dir)
    _manifest, source = load_manifest(src_dir, "js")
    code = _source(src_dir / source)
    _check(Bundle(manifest, code))
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


def _check(bundle: Bundle) -> None:
    from veil.trusted.errors import FunctionError
    from veil.trusted.sandbox.engine import SandboxEngine
    from veil.trusted.sandbox.quickjs import QuickJsSandbox

    engine = SandboxEngine()
    try:
        QuickJsSandbox(engine, bundle).close()
    except FunctionError as exc:
        raise BuildError(f"{bundle.manifest.entrypoint} does not load: {exc}") from None
    finally:
        engine.close()

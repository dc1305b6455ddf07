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
from veil.trusted.bundle import Bundle


def build_js(src_dir: Path, *, check: bool = True) -> Bundle:
    """Build the JavaScript function in `src_dir` (`handler.js`, optional `veil.toml`)."""
    src_dir = Path(src_dir)
    manifest = load_manifest(src_dir, "js")
    handler = src_dir / manifest.entrypoint
    if not handler.is_file():
        raise BuildError(f"{src_dir} has no handler file {manifest.entrypoint!r}")
    raw = handler.read_bytes()
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BuildError(f"{handler} is not UTF-8") from None
    if "export" not in source:
        raise BuildError(f"{handler} must `export function handle(request)`")
    bundle = Bundle(manifest, source.replace("\r\n", "\n").encode("utf-8"))
    if check:
        _check(bundle)
    return bundle


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

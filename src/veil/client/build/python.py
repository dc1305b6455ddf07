"""Build a Python function into a bundle: a WebAssembly component made by componentize-py.

The component holds CPython for WASI, the stdlib modules the handler
imports, the function's own modules, its vendored dependencies and the Veil
glue (`veil_function`, `veil_guest`). componentize-py imports the handler
at build time and snapshots the initialised interpreter into the component,
so module-level work is done once, at build time. The build is offline.

Dependencies are vendored: whatever `requirements.txt` names must already
sit in `vendor/` as pure-Python source (`pip install --target vendor -r
requirements.txt` puts it there); native extensions cannot run in the
sandbox and are refused.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from importlib import metadata, resources
from pathlib import Path
from typing import Final

import veil
from veil.client.build import hermetic
from veil.client.build.cache import BuildCache
from veil.client.build.guest_errors import python_message
from veil.client.build.manifest import BuildError, BuildNotReproducible, Project
from veil.trusted.crypto.digest import sha256

VENDOR_DIR: Final = "vendor"
REQUIREMENTS: Final = "requirements.txt"
SOURCE_EPOCH: Final = 315532800
"""1980-01-01: every staged file gets this mtime, so timestamps do not leak into the build."""
_COMPONENTIZE: Final = "componentize_py:script"
_RESERVED: Final = {"wit_world", "veil_guest", "veil_function", "componentize_py_types"}
_SKIP: Final = shutil.ignore_patterns(
    "__pycache__",
    "*.pyc",
    ".*",
    VENDOR_DIR,
    "veil.toml",
    REQUIREMENTS,
    "*.wasm",
    "*.bundle",
    "tests",
)


def python_code(
    project: Project,
    *,
    timeout_s: float = 600,
    reproducible: bool = True,
    cache: BuildCache | None = None,
) -> bytes:
    """The component for `project.entrypoint` ("module:function") in `project.path`.

    Raises `BuildError` with the user's error when the build fails.
    `reproducible=False` skips the hermetic tracer (the benchmark's baseline).
    With a `cache`, a build of the same staged sources by the same tools is
    reused (`build_key`).
    """
    with _staged(project) as (stage, paths, module):

        def make() -> bytes:
            out = stage / "function.wasm"
            result = _componentize(stage, paths, out, timeout_s, reproducible)
            if result.returncode != 0 or not out.exists():
                raise _failure(result, stage, project.path, module)
            return out.read_bytes()

        if cache is None:
            return make()
        return cache.build(_key(stage, reproducible), make)


def build_key(project: Project, reproducible: bool = True) -> bytes:
    """What a build of `project` depends on, the key of `BuildCache`: the staged tree
    (sources, vendored code, the glue with the entrypoint in it), whether the build
    runs pinned, and the tools that run it. Not `veil.toml`'s other settings."""
    with _staged(project) as (stage, _paths, _module):
        return _key(stage, reproducible)


@contextlib.contextmanager
def _staged(project: Project) -> Iterator[tuple[Path, list[Path], str]]:
    """(stage directory, its Python path, the handler module) for the body, then removed."""
    src_dir, entrypoint = project.path, project.entrypoint
    module, _, func = entrypoint.partition(":")
    if not module.isidentifier() or not func.isidentifier() or module in _RESERVED:
        raise BuildError(f"entrypoint must be module:function, got {entrypoint!r}")
    if not (src_dir / f"{module}.py").exists() and not (src_dir / module).is_dir():
        raise BuildError(f"{src_dir} has no module {module!r} (expected {module}.py)")
    with tempfile.TemporaryDirectory(prefix="veil-build-") as tmp:
        stage = Path(tmp)
        yield stage, _stage(src_dir, stage, module, func), module


def _key(stage: Path, reproducible: bool) -> bytes:
    pinned = reproducible and hermetic.unsupported_reason() is None
    return sha256(b"veil/python-build/v1", _tree_digest(stage), bytes([pinned]), _tools())


@functools.cache
def _tools() -> bytes:
    """componentize-py's version, this Python, and Veil's build code (the hermetic pins too)."""
    here = Path(__file__).parent
    versions = f"{metadata.version('componentize-py')} {sys.version} {platform.machine()}"
    code = sorted(p for p in here.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    parts = [(p.relative_to(here).as_posix().encode(), sha256(p.read_bytes())) for p in code]
    return sha256(versions.encode(), *(x for pair in parts for x in pair))


def _stage(src_dir: Path, stage: Path, module: str, func: str) -> list[Path]:
    """Copy sources, vendored deps and glue into `stage`; return the Python path."""
    guest = resources.files("veil.client.build").joinpath("guest")
    runtime = stage / "runtime"
    runtime.mkdir()
    (runtime / "veil_function.py").write_text(guest.joinpath("veil_function.py").read_text())
    glue = guest.joinpath("veil_guest.py.tmpl").read_text()
    glue = glue.replace("HANDLER_MODULE", module).replace("HANDLER_NAME", func)
    (runtime / "veil_guest.py").write_text(glue)
    wit = stage / "wit"
    wit.mkdir()
    (wit / "veil.wit").write_text(guest.joinpath("wit", "veil.wit").read_text())
    shutil.copytree(src_dir, stage / "app", ignore=_SKIP)
    paths = [stage / "runtime", stage / "app"]
    vendored = _vendor(src_dir, stage)
    if vendored is not None:
        paths.append(vendored)
    # An empty virtualenv, so componentize-py does not add the build host's site-packages.
    (stage / "venv" / "lib" / "python3" / "site-packages").mkdir(parents=True)
    for root, dirs, files in os.walk(stage):
        for name in dirs + files:
            os.utime(Path(root) / name, (SOURCE_EPOCH, SOURCE_EPOCH))
    return paths


def _vendor(src_dir: Path, stage: Path) -> Path | None:
    vendor = src_dir / VENDOR_DIR
    wanted = _requirements(src_dir / REQUIREMENTS)
    if not vendor.is_dir():
        if wanted:
            raise BuildError(
                f"{REQUIREMENTS} names {', '.join(wanted)} but there is no {VENDOR_DIR}/; "
                f"run: pip install --target {VENDOR_DIR} -r {REQUIREMENTS}"
            )
        return None
    present = {_normalise(p.stem if p.suffix == ".py" else p.name) for p in vendor.iterdir()}
    present |= {_normalise(p.name.split("-")[0]) for p in vendor.glob("*.dist-info")}
    missing = [name for name in wanted if _normalise(name) not in present]
    if missing:
        raise BuildError(
            f"not vendored: {', '.join(missing)}; run: pip install --target {VENDOR_DIR} "
            f"-r {REQUIREMENTS}"
        )
    native = [p for p in vendor.rglob("*") if p.suffix in (".so", ".pyd", ".dylib")]
    if native:
        raise BuildError(f"vendored native extensions cannot run in the sandbox: {native[0]}")
    target = stage / VENDOR_DIR
    shutil.copytree(vendor, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def _requirements(path: Path) -> list[str]:
    if not path.exists():
        return []
    names = []
    for line in path.read_text("utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
            if match:
                names.append(match.group(0))
    return names


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _componentize(
    stage: Path, paths: list[Path], out: Path, timeout_s: float, reproducible: bool
) -> subprocess.CompletedProcess[str]:
    """Run componentize-py, hermetic if this host allows it; its result, failed or not."""
    args = [
        "--quiet",
        "-d",
        str(stage / "wit"),
        "-w",
        "function",
        "componentize",
        *(arg for p in paths for arg in ("-p", str(p))),
        "veil_guest",
        "-o",
        str(out),
    ]
    reason = hermetic.unsupported_reason() if reproducible else "not asked for"
    if reason is None:
        seed = _tree_digest(stage)
        command = hermetic.command(_COMPONENTIZE, args, seed=seed, epoch=SOURCE_EPOCH)
        result = _run(command, stage, timeout_s)
        if result.returncode != hermetic.UNAVAILABLE:
            return result
        reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "unknown"
    if reproducible:
        warnings.warn(
            f"this build is not reproducible here ({reason}); its digest will differ "
            "from a rebuild of the same source",
            BuildNotReproducible,
            stacklevel=4,
        )
    module, _, function = _COMPONENTIZE.partition(":")
    program = f"import sys, {module}; sys.argv[0] = {module!r}; sys.exit({module}.{function}())"
    plain = [sys.executable, "-c", program, *args]
    return _run(plain, stage, timeout_s)


def _run(argv: list[str], stage: Path, timeout_s: float) -> subprocess.CompletedProcess[str]:
    (stage / "tmp").mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(stage),
        "TMPDIR": str(stage / "tmp"),
        "VIRTUAL_ENV": str(stage / "venv"),
        "PYTHONPATH": str(Path(veil.__file__).parent.parent),
        "SOURCE_DATE_EPOCH": str(SOURCE_EPOCH),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    try:
        return subprocess.run(
            argv, cwd=stage, env=env, capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        raise BuildError(f"componentize-py took longer than {timeout_s:g} s") from None


def _failure(
    result: subprocess.CompletedProcess[str], stage: Path, src_dir: Path, module: str
) -> BuildError:
    """The user's error out of componentize-py's output; all of it kept for `--debug`."""
    output = (result.stderr or result.stdout).strip().replace(str(stage), "<build>")
    roots = {0: None, 1: src_dir, 2: src_dir / VENDOR_DIR}  # the order of `_stage`'s paths
    message = python_message(output, roots, module)
    if message is None:
        cause = output.rpartition("Caused by:")[2].strip() or output
        message = f"componentize-py failed: {cause}"
    return BuildError(message, detail=output)


def _tree_digest(root: Path) -> bytes:
    """SHA-256 over every file under `root` (path and content hash), in name order: the seed.

    The same scheme as the sim TEE's measurement of the trusted sources.
    """
    parts: list[bytes] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        parts += [path.relative_to(root).as_posix().encode(), sha256(path.read_bytes())]
    return sha256(*parts)

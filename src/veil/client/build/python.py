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

import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from importlib import resources
from pathlib import Path
from typing import Final

import veil
from veil.client.build import hermetic
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


def python_code(project: Project, *, timeout_s: float = 600, reproducible: bool = True) -> bytes:
    """The component for `project.entrypoint` ("module:function") in `project.path`.

    Raises `BuildError` with componentize-py's message when the build fails.
    `reproducible=False` skips the hermetic tracer (the benchmark's baseline).
    """
    src_dir, entrypoint = project.path, project.entrypoint
    module, _, func = entrypoint.partition(":")
    if not module.isidentifier() or not func.isidentifier() or module in _RESERVED:
        raise BuildError(f"entrypoint must be module:function, got {entrypoint!r}")
    if not (src_dir / f"{module}.py").exists() and not (src_dir / module).is_dir():
        raise BuildError(f"{src_dir} has no module {module!r} (expected {module}.py)")
    with tempfile.TemporaryDirectory(prefix="veil-build-") as tmp:
        stage = Path(tmp)
        paths = _stage(src_dir, stage, module, func)
        out = stage / "function.wasm"
        _componentize(stage, paths, out, timeout_s, reproducible)
        return out.read_bytes()


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
) -> None:
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
            return _check(result, stage, out)
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
    _check(_run(plain, stage, timeout_s), stage, out)


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


def _check(result: subprocess.CompletedProcess[str], stage: Path, out: Path) -> None:
    if result.returncode != 0 or not out.exists():
        message = (result.stderr or result.stdout).strip().replace(str(stage), "<build>")
        raise BuildError(f"componentize-py failed:\n{message}")


def _tree_digest(root: Path) -> bytes:
    """SHA-256 over every file under `root` (path and content hash), in name order: the seed.

    The same scheme as the sim TEE's measurement of the trusted sources.
    """
    parts: list[bytes] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        parts += [path.relative_to(root).as_posix().encode(), sha256(path.read_bytes())]
    return sha256(*parts)

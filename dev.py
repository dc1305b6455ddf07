#!/usr/bin/env python3
"""Set up a virtual environment and run the demo or the test suite.

Only Python 3.11+ is needed: the first run creates `.venv` and installs every
package from `requirements.lock` (exact versions, hash-checked), then Veil
itself; later runs reuse it until the lock or pyproject.toml changes.

    python3 dev.py demo    # the embedded platform, one story end to end
    python3 dev.py test    # lint, type-check, import contract, pytest
    python3 dev.py lock    # regenerate requirements.lock (add --upgrade to move pins)
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".veil-installed"
LOCK = ROOT / "requirements.lock"
PYPROJECT = ROOT / "pyproject.toml"
LOCK_TOOL = "uv==0.13.9"
"""The resolver that writes the lock; pinned so a regeneration changes pins, not format."""
LOCK_HEADER = """\
# Veil's whole runtime + dev dependency tree and its build backend, every package
# pinned with the hashes of its published files (pip's hash-checking mode).
# dev.py installs it with `pip install --require-hashes -r requirements.lock`.
# Regenerate with `python3 dev.py lock` (keeps pins; `--upgrade` or
# `--upgrade-package NAME` moves them); why each pin is where it is:
# docs/design/0006-dependencies.md.
"""
PIP = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check"]


def installed_inputs() -> bytes:
    """What the venv was built from: a change to either file means re-install."""
    digest = hashlib.sha256()
    for path in (LOCK, PYPROJECT):
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest().encode()


def ensure_venv() -> None:
    """Install the locked tree, then the project without deps, once per input change.

    `--no-build-isolation` makes the editable build use the locked setuptools,
    so nothing is downloaded that the lock does not pin by hash.
    """
    inputs = installed_inputs()
    if STAMP.exists() and STAMP.read_bytes() == inputs:
        return
    if not BIN.joinpath("python").exists():
        print("setting up .venv (first run only) ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    python = str(BIN / "python")
    subprocess.run([python, *PIP, "--require-hashes", "-r", str(LOCK)], check=True)
    subprocess.run([python, *PIP, "--no-deps", "--no-build-isolation", "-e", str(ROOT)], check=True)
    STAMP.write_bytes(inputs)


def lock(extra: list[str]) -> None:
    """Resolve pyproject's runtime + dev tree and its build backend into the lock.

    The resolver runs from a throwaway venv, never the project's. Existing pins
    are kept unless `--upgrade` (or `--upgrade-package NAME`) is passed.
    """
    build_requires = tomllib.loads(PYPROJECT.read_text())["build-system"]["requires"]
    with tempfile.TemporaryDirectory() as scratch:
        tools = Path(scratch) / "tools"
        venv.EnvBuilder(with_pip=True).create(tools)
        tool_bin = tools / BIN.name
        subprocess.run([str(tool_bin / "python"), *PIP, LOCK_TOOL], check=True)
        build_in = Path(scratch) / "build-system.in"
        build_in.write_text("\n".join(build_requires) + "\n")
        compile_ = [str(tool_bin / "uv"), "pip", "compile", "pyproject.toml", str(build_in)]
        options = ["--extra", "dev", "--universal", "--python-version", "3.11"]
        options += ["--generate-hashes", "--custom-compile-command", "python3 dev.py lock"]
        options += ["--output-file", LOCK.name, "--quiet", *extra]
        subprocess.run([*compile_, *options], cwd=ROOT, check=True)
        text = LOCK.read_text().replace(f"-r {build_in}", "pyproject.toml [build-system]")
    LOCK.write_text(LOCK_HEADER + text)


def run(*argv: str) -> None:
    result = subprocess.run(argv, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(result.returncode)


def test(extra: list[str]) -> None:
    run(str(BIN / "ruff"), "check", "src", "tests", "dev.py")
    run(str(BIN / "mypy"))
    run(str(BIN / "lint-imports"))
    run(str(BIN / "python"), "-m", "pytest", *extra)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in {"demo", "test", "veil", "lock"}:
        print(__doc__)
        sys.exit(2)
    command, extra = sys.argv[1], sys.argv[2:]
    if command == "lock":
        lock(extra)
        return
    ensure_venv()
    if command == "test":
        test(extra)
    elif command == "demo":
        run(str(BIN / "veil"), "demo", *extra)
    else:
        run(str(BIN / "veil"), *extra)


if __name__ == "__main__":
    main()

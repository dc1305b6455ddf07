#!/usr/bin/env python3
"""Set up a virtual environment and run the demo or the test suite.

Only Python 3.11+ is needed: the first run creates `.venv` and installs Veil
with its pinned dependencies, later runs reuse it.

    python3 dev.py demo    # the embedded platform, one story end to end
    python3 dev.py test    # lint, type-check, import contract, pytest
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".veil-installed"


def ensure_venv() -> None:
    """Create the venv and install the project once per pyproject change."""
    pyproject = (ROOT / "pyproject.toml").read_bytes()
    if STAMP.exists() and STAMP.read_bytes() == pyproject:
        return
    if not BIN.joinpath("python").exists():
        print("setting up .venv (first run only) ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_bytes(pyproject)


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
    if len(sys.argv) < 2 or sys.argv[1] not in {"demo", "test", "veil"}:
        print(__doc__)
        sys.exit(2)
    ensure_venv()
    command, extra = sys.argv[1], sys.argv[2:]
    if command == "test":
        test(extra)
    elif command == "demo":
        run(str(BIN / "veil"), "demo", *extra)
    else:
        run(str(BIN / "veil"), *extra)


if __name__ == "__main__":
    main()

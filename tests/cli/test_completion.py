"""`veil completion SHELL`: scripts that a real shell runs and that complete `veil`'s commands."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli.runs import run

CLI = CliRunner()


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_shell_gets_a_script_for_veil(shell: str) -> None:
    script = run(CLI, "completion", shell)
    assert "veil" in script and "_VEIL_COMPLETE=complete_" in script


def test_an_unknown_shell_is_refused_naming_the_choices() -> None:
    out = run(CLI, "completion", "tcsh", code=2)
    assert "bash" in out and "zsh" in out and "fish" in out


def test_the_bash_script_completes_veil_commands_in_bash(tmp_path: Path) -> None:
    """Sourced into a real bash, Tab after `veil sta` offers `status` (asking `veil` itself)."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash on this machine")
    script = tmp_path / "veil.bash"
    script.write_text(run(CLI, "completion", "bash"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    veil = bin_dir / "veil"  # `veil` as the script calls it, running this checkout
    launch = "from veil.cli.main import app; app(prog_name='veil')"
    veil.write_text(f'#!/bin/sh\nexec "{sys.executable}" -c "{launch}" "$@"\n')
    veil.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    tab = f"source {script}; COMP_WORDS=(veil sta); COMP_CWORD=1; _veil_completion veil"
    tab += '; echo "${COMPREPLY[@]}"'
    done = subprocess.run([bash, "-c", tab], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["status"], done.stderr

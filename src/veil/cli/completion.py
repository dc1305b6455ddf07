"""`veil completion SHELL`: the shell's completion script for `veil`, printed.

Typer's `--install-completion` edits your shell's startup file for you and
`--show-completion` prints the script for the shell it guesses; this prints
it for the shell you name, for a dotfile or a package to ship. The script
asks `veil` itself for completions at each Tab (with `_VEIL_COMPLETE` set),
so it never goes stale when commands change.

The script comes from the function `--show-completion` uses: typer answers
Tab with its own (vendored) completion classes, and only their scripts
speak that protocol; click's own scripts would get "not supported".
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from typer._completion_shared import get_completion_script

from veil.cli.output import out, plain

PROG: Final = "veil"
COMPLETE_VAR: Final = "_VEIL_COMPLETE"


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(shell: Shell) -> None:
    """Print the completion script for SHELL (e.g. `veil completion bash >> ~/.bashrc`)."""
    plain(get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell.value), out)

"""The traced side: load the program, become traceable, install the filter, run the program.

Run as a script by `supervisor` (`child.py MODULE:FUNCTION ARGS...`), never
imported by the build itself. The build runs `componentize_py:script`.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

UNAVAILABLE = 75
"""Exit status (EX_TEMPFAIL) meaning "this host cannot pin the build", not "the build failed"."""


def main(target: str, argv: list[str]) -> int:
    # Import everything first: once the filter is on, file times are pinned, and
    # CPython would find its cached bytecode stale and recompile.
    # The target is a "module:function" string on purpose, not a typed table:
    # it crosses a process boundary (the supervisor starts this file by path,
    # with a fresh interpreter), and the tracer runs any program (the build's
    # componentize-py, the tests' probe), so there is no closed set to type.
    module_name, _, function_name = target.partition(":")
    program = getattr(importlib.import_module(module_name), function_name)

    from veil.client.build.hermetic import pins, ptrace, seccomp

    try:
        ptrace.trace_me()
        os.kill(os.getpid(), signal.SIGSTOP)
        traced: dict[int, int | None] = dict.fromkeys((*pins.FILE_SYSCALLS, pins.SYS_GETRANDOM))
        traced.update(dict.fromkeys(pins.CLOCK_SYSCALLS, os.getpid()))
        seccomp.install(seccomp.trace_filter(traced))
    except OSError as exc:
        print(f"hermetic build unavailable: {exc}", file=sys.stderr)
        return UNAVAILABLE
    sys.argv = [module_name, *argv]
    result = program()
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))

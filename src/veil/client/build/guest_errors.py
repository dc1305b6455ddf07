"""A failed build's output, cut down to the user's error: their frames, file, line and exception.

A Python build imports the handler module once (componentize-py snapshots
the initialised interpreter), so a syntax error or an exception at module
level fails the build. componentize-py then prints the build tracer's
frames, its own, and last the guest's traceback with guest paths: `/0/` is
Veil's glue, `/1/` the project, `/2/` its `vendor/`. The user needs only
that last traceback, without Veil's frames, with their own paths. The
JavaScript sandbox names the module `handler.js` whatever the file is
called; `js_message` puts the file's path back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

TRACEBACK: Final = "Traceback (most recent call last):"
_FRAME: Final = re.compile(r'^  File "/(\d+)/([^"]*)"(.*)$')
_MISSING_HANDLER: Final = re.compile(r"^AttributeError: module '(\w+)' has no attribute '(\w+)'")


def python_message(output: str, roots: Mapping[int, Path | None], module: str) -> str | None:
    """The guest's traceback in `output`, for the user; None if the output has none.

    `roots` maps a guest path index to the host directory it came from, or
    to None for Veil's own glue, whose frames are dropped.
    """
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.rstrip().endswith(TRACEBACK)]
    if not starts:
        return None
    frames, exception = _split(lines[starts[-1] + 1 :])
    if not exception:
        return None
    kept = [shown for frame in frames if (shown := _frame(frame, roots)) is not None]
    missing = _MISSING_HANDLER.match(exception[0])
    if not kept and missing and missing.group(1) == module:
        where = roots.get(1)
        path = where / f"{module}.py" if where is not None else Path(f"{module}.py")
        return (
            f"{path} has no function {missing.group(2)!r} "
            "(the [function] entrypoint in veil.toml names it)"
        )
    head = f"{module}.py failed when the build imported it (module-level code runs at build time):"
    body = [TRACEBACK, *(line for frame in kept for line in frame)] if kept else []
    return "\n".join([head, *body, *exception])


def _split(lines: list[str]) -> tuple[list[list[str]], list[str]]:
    """(frames, each its lines; the exception's lines) of one printed traceback."""
    frames: list[list[str]] = []
    exception: list[str] = []
    for line in lines:
        if exception:
            if not line.strip() or line.startswith("Caused by:"):
                break
            exception.append(line)
        elif line.startswith("  File "):
            frames.append([line])
        elif line.startswith("    ") and frames:
            frames[-1].append(line)
        elif line.strip():
            exception.append(line)
    return frames, exception


def _frame(frame: list[str], roots: Mapping[int, Path | None]) -> list[str] | None:
    """`frame` with its guest path made a host path; None for a frame of Veil's glue."""
    match = _FRAME.match(frame[0])
    if match is None:
        return frame  # the runtime's own stdlib: not Veil's, keep it as Python prints it
    index, rest, tail = int(match.group(1)), match.group(2), match.group(3)
    root = roots.get(index)
    if root is None:
        return None
    return [f'  File "{root / rest}"{tail}', *frame[1:]]


def js_message(message: str, source: Path) -> str:
    """The sandbox's load error with the module's real path for its fixed name `handler.js`."""
    message = message.removeprefix("handler.js failed to load:").lstrip()
    return message.replace("handler.js", str(source))

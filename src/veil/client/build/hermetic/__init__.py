"""Hermetic Python builds: componentize-py run with the build host pinned, for reproducible digests.

componentize-py snapshots a running CPython into the component, so the
build host leaks into every byte of it: entropy (the hash secret, `random`
state), the clock, file times, inode numbers and directory order
(upstream: bytecodealliance/componentize-py#247). The build therefore runs
componentize-py under a small tracer that pins all of those (see `pins`):

- a seccomp filter stops the child only on `stat`-family, `getdents64`,
  `getrandom` and, on the thread that runs the guest, clock syscalls;
- the child's vDSO clock functions are patched into real syscalls (`vdso`);
- the tracer rewrites each result from the build's seed and epoch.

Nothing here touches the guest or componentize-py's code; the guest simply
sees a host whose clock, entropy and files are the same on every build.
Linux x86-64 only; elsewhere (or where ptrace is not permitted) the build
still works but is not reproducible, and says so.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from veil.client.build.hermetic.child import UNAVAILABLE

__all__ = ["UNAVAILABLE", "command", "unsupported_reason"]


def unsupported_reason() -> str | None:
    """Why this host cannot run a hermetic build, or None if it can try."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return f"hermetic builds need Linux on x86-64, not {sys.platform}/{platform.machine()}"
    if not os.path.exists("/proc/self/mem"):
        return "hermetic builds need /proc"
    return None


def command(target: str, args: list[str], *, seed: bytes, epoch: int) -> list[str]:
    """The command line that runs `target` ("module:function") with `args` under the tracer.

    Run it from the build's staging directory (paths under it are pinned relative to it).
    """
    return [
        sys.executable,
        str(Path(__file__).with_name("__main__.py")),
        "--seed",
        seed.hex(),
        "--epoch",
        str(epoch),
        target,
        "--",
        *args,
    ]

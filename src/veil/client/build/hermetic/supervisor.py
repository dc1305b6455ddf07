"""The tracer: start the child, patch its vDSO, and rewrite the results of the syscalls it traps.

It runs in a process of its own so that `waitpid(-1)` sees only the traced
child's threads, never another child of the caller.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

from veil.client.build.hermetic import ptrace
from veil.client.build.hermetic.child import UNAVAILABLE
from veil.client.build.hermetic.pins import Pins
from veil.client.build.hermetic.tracee import Tracee
from veil.client.build.hermetic.vdso import VdsoNotPatched, route_clocks_through_syscalls

_OPTIONS = (
    ptrace.O_TRACESYSGOOD
    | ptrace.O_TRACESECCOMP
    | ptrace.O_TRACECLONE
    | ptrace.O_TRACEFORK
    | ptrace.O_TRACEVFORK
    | ptrace.O_EXITKILL
)
_CHILD = Path(__file__).with_name("child.py")


def supervise(target: str, argv: list[str], pins: Pins) -> int:
    """Run `target` ("module:function", reading `sys.argv`) with `argv` under `pins`.

    Returns its exit status, or `UNAVAILABLE` if this host cannot trace it.
    """
    child = subprocess.Popen([sys.executable, str(_CHILD), target, *argv])
    try:
        status = _attach(child.pid)
        if status is not None:
            return status
        return _trace(child.pid, pins)
    finally:
        # Reaped above; if tracing broke midway, O_EXITKILL ends it when this process
        # exits. Either way Popen has nothing left to wait for.
        child.returncode = -1 if child.returncode is None else child.returncode


def _attach(pid: int) -> int | None:
    """Wait for the child's self-stop and set it up; an exit status if it never got there."""
    _, status = os.waitpid(pid, ptrace.WALL)
    if not (os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGSTOP):
        return os.waitstatus_to_exitcode(status)
    try:
        ptrace.set_options(pid, _OPTIONS)
        route_clocks_through_syscalls(pid)
    except (OSError, VdsoNotPatched) as exc:
        print(f"hermetic build unavailable: {exc}", file=sys.stderr)
        os.kill(pid, signal.SIGKILL)  # stopped and untraceable: it would never run on
        os.waitpid(pid, ptrace.WALL)
        return UNAVAILABLE
    ptrace.resume(pid)
    return None


def _trace(pid: int, pins: Pins) -> int:
    tracee = Tracee(pid)
    pending: dict[int, int] = {}
    try:
        while True:
            tid, status = os.waitpid(-1, ptrace.WALL)
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                if tid == pid:
                    return os.waitstatus_to_exitcode(status)
                continue
            _step(tid, status, pins, tracee, pending)
    finally:
        tracee.close()


def _step(tid: int, status: int, pins: Pins, tracee: Tracee, pending: dict[int, int]) -> None:
    """Handle one stop of thread `tid` and let it run on."""
    stop_signal, event = os.WSTOPSIG(status), status >> 16
    deliver = 0
    try:
        if event == ptrace.EVENT_SECCOMP:
            pending[tid] = ptrace.get_regs(tid).orig_rax
            ptrace.resume_to_syscall_exit(tid)
            return
        if stop_signal == ptrace.SYSCALL_STOP:
            nr = pending.pop(tid, None)
            if nr is not None:
                regs = pins.rewrite(tracee, nr, ptrace.get_regs(tid))
                if regs is not None:
                    ptrace.set_regs(tid, regs)
        elif not event and stop_signal not in (signal.SIGSTOP, signal.SIGTRAP):
            deliver = stop_signal
        ptrace.resume(tid, deliver)
    except ptrace.TracingUnavailable as exc:
        if exc.errno != errno.ESRCH:  # a thread killed while stopped is gone, not an error
            raise

"""The few ptrace(2) requests the hermetic build needs, through ctypes (Linux x86-64 only)."""

from __future__ import annotations

import ctypes
import os
from typing import Final

TRACEME: Final = 0
CONT: Final = 7
GETREGS: Final = 12
SETREGS: Final = 13
SYSCALL: Final = 24
SETOPTIONS: Final = 0x4200

O_TRACESYSGOOD: Final = 0x1
O_TRACEFORK: Final = 0x2
O_TRACEVFORK: Final = 0x4
O_TRACECLONE: Final = 0x8
O_TRACESECCOMP: Final = 0x80
O_EXITKILL: Final = 0x100000

EVENT_SECCOMP: Final = 7
SYSCALL_STOP: Final = 0x80 | 5
"""WSTOPSIG of a syscall stop under O_TRACESYSGOOD: SIGTRAP with bit 7 set."""
WALL: Final = 0x40000000
"""waitpid's __WALL: wait for every thread, not only the thread-group leader."""


class TracingUnavailable(OSError):
    """This host does not let a process trace its child (no ptrace, or not permitted)."""


class Regs(ctypes.Structure):
    """`struct user_regs_struct` for x86-64."""

    _REGISTERS = (
        "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags"
        " rsp ss fs_base gs_base ds es fs gs"
    )
    _fields_ = [(name, ctypes.c_ulonglong) for name in _REGISTERS.split(" ")]


_libc = ctypes.CDLL(None, use_errno=True)
_ptrace = _libc.ptrace
_ptrace.restype = ctypes.c_long
_ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]


def _call(request: int, tid: int, addr: int | None, data: object) -> None:
    if _ptrace(request, tid, addr, data) == -1:
        errno = ctypes.get_errno()
        raise TracingUnavailable(errno, f"ptrace({request}, {tid}): {os.strerror(errno)}")


def trace_me() -> None:
    """Make the calling process's parent its tracer."""
    _call(TRACEME, 0, None, None)


def set_options(tid: int, options: int) -> None:
    _call(SETOPTIONS, tid, None, ctypes.c_void_p(options))


def resume(tid: int, signal: int = 0) -> None:
    """Let `tid` run until its next event, delivering `signal` if not 0."""
    _call(CONT, tid, None, ctypes.c_void_p(signal))


def resume_to_syscall_exit(tid: int) -> None:
    """Let `tid` run its syscall and stop again when the kernel returns from it."""
    _call(SYSCALL, tid, None, None)


def get_regs(tid: int) -> Regs:
    regs = Regs()
    _call(GETREGS, tid, None, ctypes.byref(regs))
    return regs


def set_regs(tid: int, regs: Regs) -> None:
    _call(SETREGS, tid, None, ctypes.byref(regs))

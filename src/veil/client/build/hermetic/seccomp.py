"""A seccomp filter that hands chosen syscalls to the tracer and lets every other one run.

Only the listed syscalls stop the process; everything else runs at full
speed. A syscall listed with a thread id stops only when its third argument
equals that id: the clock stubs `vdso` writes pass the caller's thread id
there, so that only the thread the guest runs on is pinned, while the
compiler threads (hundreds of thousands of clock reads) are not traced.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Mapping
from typing import Final

AUDIT_ARCH_X86_64: Final = 0xC000003E
_RET_ALLOW: Final = 0x7FFF0000
_RET_TRACE: Final = 0x7FF00000
_LD_W_ABS: Final = 0x20
_JEQ_K: Final = 0x15
_RET_K: Final = 0x06
_NR, _ARCH, _ARG2_LOW = 0, 4, 32
"""Offsets into `struct seccomp_data`: nr, arch, and the low word of args[2]."""
_PR_SET_NO_NEW_PRIVS: Final = 38
_PR_SET_SECCOMP: Final = 22
_SECCOMP_MODE_FILTER: Final = 2


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def trace_filter(traced: Mapping[int, int | None]) -> bytes:
    """BPF for `traced`: syscall number → None (always trace) or the only thread id to trace."""
    program = [
        _op(_LD_W_ABS, _ARCH),
        _op(_JEQ_K, AUDIT_ARCH_X86_64, jt=1),
        _op(_RET_K, _RET_ALLOW),
        _op(_LD_W_ABS, _NR),
    ]
    for nr, tid in traced.items():
        if tid is None:
            program += [_op(_JEQ_K, nr, jf=1), _op(_RET_K, _RET_TRACE)]
        else:
            program += [
                _op(_JEQ_K, nr, jf=4),
                _op(_LD_W_ABS, _ARG2_LOW),
                _op(_JEQ_K, tid, jf=1),
                _op(_RET_K, _RET_TRACE),
                _op(_RET_K, _RET_ALLOW),
            ]
    program.append(_op(_RET_K, _RET_ALLOW))
    return b"".join(program)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(program: bytes) -> None:
    """Install `program` on the calling thread and every thread it creates from now on."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [
        ctypes.c_int,
        ctypes.c_ulong,
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_ulong,
    ]
    code = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(code))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")

"""Turn a traced process's vDSO clock functions into real syscalls, so a seccomp filter sees them.

glibc reads the clocks through the vDSO, which never enters the kernel,
so neither seccomp nor ptrace can see or pin those reads. Each clock entry
point is overwritten (through the tracer's `/proc/PID/mem`, which may write
read-only pages) with a stub that makes the syscall itself, passing the
caller's thread id as the otherwise unused third argument:

    push rdi; push rsi; mov eax, SYS_gettid; syscall; pop rsi; pop rdi
    mov edx, eax; mov eax, NR; syscall; ret
"""

from __future__ import annotations

import os
import struct
from typing import Final

SYS_GETTID: Final = 186
CLOCK_SYSCALLS: Final = {
    b"__vdso_clock_gettime": 228,
    b"__vdso_gettimeofday": 96,
    b"__vdso_time": 201,
}
_SHT_DYNSYM: Final = 11
_PT_LOAD: Final = 1


class VdsoNotPatched(RuntimeError):
    """The vDSO could not be found or had an unexpected shape."""


def stub(nr: int) -> bytes:
    """x86-64 code for one clock entry point: syscall `nr` with the thread id in rdx."""
    gettid = b"\x57\x56" + struct.pack("<BI", 0xB8, SYS_GETTID) + b"\x0f\x05\x5e\x5f"
    return gettid + b"\x89\xc2" + struct.pack("<BI", 0xB8, nr) + b"\x0f\x05\xc3"


def _vdso_range(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            if line.rstrip().endswith("[vdso]"):
                low, high = line.split()[0].split("-")
                return int(low, 16), int(high, 16)
    raise VdsoNotPatched(f"process {pid} has no vDSO")


def clock_entry_points(image: bytes) -> dict[bytes, tuple[int, int]]:
    """Name → (offset in `image`, size) of each clock function the vDSO's ELF image exports."""
    if image[:4] != b"\x7fELF" or image[4] != 2:
        raise VdsoNotPatched("vDSO is not a 64-bit ELF image")
    (phoff,) = struct.unpack_from("<Q", image, 0x20)
    (shoff,) = struct.unpack_from("<Q", image, 0x28)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", image, 0x36)
    base = None
    for i in range(phnum):
        p_type, _flags, p_offset, p_vaddr = struct.unpack_from(
            "<IIQQ", image, phoff + i * phentsize
        )
        if p_type == _PT_LOAD:
            base = p_vaddr - p_offset
            break
    sections = [struct.unpack_from("<IIQQQQII", image, shoff + i * shentsize) for i in range(shnum)]
    dynsym = next((s for s in sections if s[1] == _SHT_DYNSYM), None)
    if base is None or dynsym is None:
        raise VdsoNotPatched("vDSO has no loadable segment or no dynamic symbols")
    strtab = sections[dynsym[6]][4]
    found = {}
    for offset in range(dynsym[4], dynsym[4] + dynsym[5], 24):
        st_name, _info, _other, _shndx, st_value, st_size = struct.unpack_from(
            "<IBBHQQ", image, offset
        )
        name = image[strtab + st_name :].split(b"\0", 1)[0]
        if name in CLOCK_SYSCALLS:
            found[name] = (st_value - base, st_size)
    return found


def route_clocks_through_syscalls(pid: int) -> None:
    """Patch stopped, traced process `pid` so every clock read is a syscall (see module doc)."""
    low, high = _vdso_range(pid)
    fd = os.open(f"/proc/{pid}/mem", os.O_RDWR)
    try:
        entries = clock_entry_points(os.pread(fd, high - low, low))
        if set(entries) != set(CLOCK_SYSCALLS):
            raise VdsoNotPatched(f"vDSO lacks {sorted(set(CLOCK_SYSCALLS) - set(entries))}")
        for name, (offset, size) in entries.items():
            code = stub(CLOCK_SYSCALLS[name])
            if size < len(code):
                raise VdsoNotPatched(f"{name.decode()} is {size} bytes, too small for the stub")
            os.pwrite(fd, code, low + offset)
    finally:
        os.close(fd)

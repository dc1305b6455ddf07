"""The C API of one QuickJS-NG engine instance, reached through its linear memory.

Values cross as 64-bit `JSValue`s (tag in the high word); strings, argument
arrays and buffers are copied in or out at addresses `malloc` returns.
What runs, when to snapshot and how to rewind is `quickjs`'s business.
"""

from __future__ import annotations

import ctypes
import struct
from typing import Any, Final

import wasmtime

from veil.trusted.sandbox.errors import ABIViolation, FunctionOutOfMemory, FunctionTimeout
from veil.trusted.sandbox.fastpath import ExportsByName, NumCall

TAG_EXCEPTION: Final = 6
UNDEFINED: Final = 3 << 32
EVAL_GLOBAL, EVAL_MODULE, EVAL_COMPILE_ONLY = 0, 1, 1 << 5
PROMISE_PENDING, PROMISE_REJECTED = 0, 2
U32: Final = 0xFFFFFFFF
_U64: Final = 0xFFFFFFFFFFFFFFFF
_MAX_JOBS: Final = 1_000_000
_API: Final = (  # noqa: SIM905  the C API the engine must export, packed: the TCB budget
    "_initialize malloc free JS_NewRuntime JS_NewContext JS_SetMemoryLimit "
    "JS_SetMaxStackSize JS_Eval JS_EvalFunction JS_GetModuleNamespace "
    "JS_GetPropertyStr JS_GetPropertyUint32 JS_IsFunction JS_Call "
    "JS_ExecutePendingJob JS_GetException JS_NewUint8ArrayCopy JS_GetUint8Array "
    "JS_ToCStringLen2 JS_PromiseState JS_PromiseResult"
).split()


def is_exception(value: int) -> bool:
    return (value >> 32) & U32 == TAG_EXCEPTION


class JsApi:
    """Typed handles on one engine instance's C API, and its runtime, context and scratch space.

    `rt`, `ctx` and `scratch` are addresses inside the instance: set once at
    boot, they stay valid in every instance restored from the same snapshot.
    """

    f: dict[str, Any]
    rt: int
    ctx: int
    scratch: int

    def __init__(
        self, store: wasmtime.Store, instance: wasmtime.Instance, like: JsApi | None = None
    ) -> None:
        """`like`: the same engine's handles in another instance, whose types are reused."""
        ex = self.exports = ExportsByName(store, instance)
        memory = ex.get("memory")
        if not isinstance(memory, wasmtime.Memory):
            raise ABIViolation("engine does not export its memory")
        self.store, self.memory = store, memory
        self.rt, self.ctx, self.scratch = (like.rt, like.ctx, like.scratch) if like else (0, 0, 0)
        self.f = {}
        for name in _API:
            func = ex.get(name)
            if not isinstance(func, wasmtime.Func):
                raise ABIViolation(f"engine does not export {name}")
            template = like.f[name] if like is not None else None
            if isinstance(template, NumCall) or (like is None and func.type(store).results):
                func = NumCall(store, func, template)  # those with a result: the numeric fast path
            self.f[name] = func

    def base(self) -> int:
        return ctypes.addressof(self.memory.data_ptr(self.store).contents)

    def write(self, data: bytes) -> int:
        ptr: int = self.f["malloc"](max(1, len(data))) & U32
        if ptr == 0:
            raise FunctionOutOfMemory("no memory left for the input")
        ctypes.memmove(self.base() + ptr, data, len(data))
        return ptr

    def read(self, ptr: int, size: int) -> bytes:
        if ptr + size > self.memory.data_len(self.store):
            raise ABIViolation("engine returned a buffer outside its memory")
        return ctypes.string_at(self.base() + ptr, size)

    def sized(self, ptr: int) -> bytes:
        """The buffer at `ptr` whose length the call that returned it wrote to scratch + 16."""
        size: int = struct.unpack("<I", self.read(self.scratch + 16, 4))[0]
        return self.read(ptr & U32, size)

    def eval(self, code: str, name: str, flags: int) -> int:
        """`JS_Eval` of `code`; an exception value if it threw (the caller describes it)."""
        raw = code.encode()
        src, fname = self.write(raw + b"\0"), self.write(name.encode() + b"\0")
        value: int = self.f["JS_Eval"](self.ctx, src, len(raw), fname, flags)
        return value

    def call(self, func: int, args: list[int]) -> int:
        argv = self.scratch
        packed = struct.pack(f"<{len(args)}Q", *(a & _U64 for a in args))
        ctypes.memmove(self.base() + argv, packed, len(packed))
        result: int = self.f["JS_Call"](self.ctx, func, UNDEFINED, len(args), argv)
        return result

    def text(self, value: int) -> str:
        """A JS value as a Python string (via `String(value)`)."""
        if is_exception(value):
            return "uncaught exception"
        cstr = self.f["JS_ToCStringLen2"](self.ctx, self.scratch + 16, value, 0)
        if not cstr & U32:
            return "uncaught exception"
        return self.sized(cstr).decode("utf-8", "replace")

    def bytes_of(self, array: int) -> bytes:
        """The contents of a `Uint8Array` value."""
        return self.sized(self.f["JS_GetUint8Array"](self.ctx, self.scratch + 16, array))

    def drain(self) -> None:
        """Run queued promise jobs until none is left (async handlers settle here)."""
        run, rt, pctx = self.f["JS_ExecutePendingJob"], self.rt, self.scratch + 24
        for _ in range(_MAX_JOBS):
            if run(rt, pctx) == 0:
                return
        raise FunctionTimeout("handler kept queueing promise jobs")

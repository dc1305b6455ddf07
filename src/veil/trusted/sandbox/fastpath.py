"""Direct calls into wasmtime's C API for the per-request hot path.

wasmtime-py re-derives a function's type and converts every value on each call
(about 14 µs per call or global write): two calls a request and a write per
mutable global a rewind would alone miss the 150 µs budget. Here types are
checked once, when the sandbox is built, and calls reuse preallocated buffers;
non-numeric types take wasmtime-py's own path. Relies on internals of the
pinned wasmtime-py release (50.0.1).
"""

from __future__ import annotations

import ctypes
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime._extern import wrap_extern
from wasmtime._func import enter_wasm

_KINDS: dict[str, Any] = {
    "i32": (ffi.WASMTIME_I32.value, "i32"),
    "i64": (ffi.WASMTIME_I64.value, "i64"),
    "f32": (ffi.WASMTIME_F32.value, "f32"),
    "f64": (ffi.WASMTIME_F64.value, "f64"),
}


def _kind(ty: wasmtime.ValType) -> tuple[int, str] | None:
    found: tuple[int, str] | None = _KINDS.get(str(ty))
    return found


class GlobalWriter:
    """Writes one fixed value into a global; numeric globals skip wasmtime-py's conversions."""

    __slots__ = ("_args", "_global", "_raw", "_store", "_value")

    def __init__(self, store: wasmtime.Store, glob: wasmtime.Global, value: Any) -> None:
        self._store, self._global, self._value = store, glob, value
        kind = _kind(glob.type(store).content)
        self._raw: Any = None
        self._args: tuple[Any, ...] = ()
        if kind is not None:
            raw = ffi.wasmtime_val_t()
            raw.kind = kind[0]  # type: ignore[assignment]
            setattr(raw.of, kind[1], value)
            self._raw = raw
            # The store's context, the global and the value are fixed: build the call once.
            self._args = (store._context(), ctypes.byref(glob._global), ctypes.byref(raw))

    def __call__(self) -> None:
        if self._raw is None:
            self._global.set_value(self._store, self._value)
            return
        error = ffi.wasmtime_global_set(*self._args)
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)


class NumCall:
    """A call to a function of numeric params (any mix of i32/i64/f32/f64) and one result."""

    __slots__ = ("_field", "_fields", "_func", "_nparams", "_params", "_results", "_store")
    _params: Any
    _field: str
    _fields: list[str]

    def __init__(
        self, store: wasmtime.Store, func: wasmtime.Func, like: NumCall | None = None
    ) -> None:
        """`like`: a call to the same export of another instance, whose types are reused."""
        if like is not None:
            kinds = [(p.kind, f) for p, f in zip(like._params, like._fields, strict=False)]
            field = like._field
        else:
            ty = func.type(store)
            kinds = [k for p in ty.params if (k := _kind(p)) is not None]
            results = [k for r in ty.results if (k := _kind(r)) is not None]
            if len(kinds) != len(ty.params) or len(results) != 1 or len(ty.results) != 1:
                raise TypeError(f"expected numeric params and one numeric result, got {ty}")
            field = results[0][1]
        self._store, self._func, self._field = store, func, field
        self._nparams = len(kinds)
        self._params = (ffi.wasmtime_val_t * max(1, len(kinds)))()
        for i, (kind, _) in enumerate(kinds):
            self._params[i].kind = kind
        self._fields = [name for _, name in kinds]
        self._results = (ffi.wasmtime_val_t * 1)()

    @classmethod
    def with_i32_params(cls, store: wasmtime.Store, func: wasmtime.Func, params: int) -> NumCall:
        """A call whose signature must be exactly `params` i32 parameters and one result."""
        ty = func.type(store)
        if len(ty.params) != params or any(str(p) != "i32" for p in ty.params):
            raise TypeError(f"expected {params} i32 parameter(s), got {ty.params}")
        return cls(store, func)

    def __call__(self, *args: int) -> int:
        params = self._params
        for i, (field, value) in enumerate(zip(self._fields, args, strict=True)):
            setattr(params[i].of, field, value)
        store = self._store
        with enter_wasm(store) as trap:
            error = ffi.wasmtime_func_call(
                store._context(),
                ctypes.byref(self._func._func),
                params,
                self._nparams,
                self._results,
                1,
                trap,
            )
            if error:
                raise wasmtime.WasmtimeError._from_ptr(error)
        result: int = getattr(self._results[0].of, self._field)
        return result


class ExportsByName:
    """Looks up exports singly: `Instance.exports` wraps all ~290 QuickJS ones (milliseconds)."""

    __slots__ = ("_instance", "_store")

    def __init__(self, store: wasmtime.Store, instance: wasmtime.Instance) -> None:
        self._store, self._instance = store, instance

    def get(self, name: str) -> Any:
        raw = name.encode()
        item = ffi.wasmtime_extern_t()
        found = ffi.wasmtime_instance_export_get(
            self._store._context(),
            ctypes.byref(self._instance._instance),
            ctypes.create_string_buffer(raw, len(raw)),
            len(raw),
            ctypes.byref(item),
        )
        return wrap_extern(item) if found else None

    def __getitem__(self, name: str) -> Any:
        item = self.get(name)
        if item is None:
            raise KeyError(name)
        return item


class MemorySize:
    """A memory's current size in bytes, with the C call's arguments built once."""

    __slots__ = ("_args",)

    def __init__(self, store: wasmtime.Store, memory: wasmtime.Memory) -> None:
        self._args = (store._context(), ctypes.byref(memory._memory))

    def __call__(self) -> int:
        size: int = ffi.wasmtime_memory_data_size(*self._args)
        return size

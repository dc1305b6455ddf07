"""The reactor ABI: a module that stays instantiated and is called once per request.

The module exports `memory`, `veil_alloc(len: i32) -> i32` and an entrypoint
(default `veil_invoke(ptr: i32, len: i32) -> i64` returning
`out_ptr << 32 | out_len`), and optionally `veil_init()`, run once before
the snapshot. WASI imports, if any, get an empty world: no files, no
environment, no arguments, stdout/stderr captured only when the manifest asks.
"""

from __future__ import annotations

import ctypes
from typing import Any

import wasmtime

from veil.trusted.bundle import Bundle
from veil.trusted.sandbox.api import Limited, Output
from veil.trusted.sandbox.engine import SandboxEngine
from veil.trusted.sandbox.errors import ABIViolation
from veil.trusted.sandbox.fastpath import NumCall
from veil.trusted.sandbox.snapshot import InstanceState, Snapshot
from veil.trusted.sandbox.variables import CURRENT
from veil.trusted.sandbox.wasm_binary import StateLayout, export_state

ALLOC_EXPORT = "veil_alloc"
INIT_EXPORT = "veil_init"
_U32 = 0xFFFFFFFF


class LogBuffer:
    """Collects a function's stdout/stderr for the sealed response, capped in size."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept = bytearray()

    def write(self, data: bytes) -> None:
        self.kept += data[: self.limit - len(self.kept)]

    def take(self) -> bytes:
        out = bytes(self.kept)
        self.kept.clear()
        return out


def wasi_config(logs: LogBuffer | None) -> wasmtime.WasiConfig:
    """An empty WASI world; output goes to `logs` or nowhere, never to the host."""
    config = wasmtime.WasiConfig()
    config.argv = ["veil"]
    config.env = []
    sink = logs.write if logs is not None else (lambda _data: None)
    config.stdout_custom = sink
    config.stderr_custom = sink
    return config


class ReactorSandbox(Limited):
    """A reactor module with in-place rewind to its post-init snapshot."""

    def __init__(self, engine: SandboxEngine, bundle: Bundle) -> None:
        super().__init__(engine, bundle)
        manifest = bundle.manifest
        self._entry = manifest.entrypoint
        self._logs = LogBuffer(manifest.limits.max_output) if manifest.capture_logs else None
        self._pre, self._layout = engine.compiled(bundle.digest, lambda: _compile(engine, bundle))
        self._fresh_instance()

    def _fresh_instance(self) -> None:
        """Instantiate, run `veil_init`, and take the snapshot every request starts from."""
        store = self._new_store(wasi_config(self._logs))
        try:
            instance = self._pre.instantiate(store)
            exports = instance.exports(store)
            self._memory = _export(exports, "memory", wasmtime.Memory)
            # Its base address stays put for the instance's life: memory_may_move = False.
            self._base = ctypes.addressof(self._memory.data_ptr(store).contents)
            self._alloc = _typed(store, _export(exports, ALLOC_EXPORT, wasmtime.Func), 1)
            self._invoke = _typed(store, _export(exports, self._entry, wasmtime.Func), 2)
            init = exports.get(INIT_EXPORT)
            if isinstance(init, wasmtime.Func):
                init(store)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            raise self._trapped(exc, store) from None
        self._store = store
        self._state = InstanceState(store, instance, self._layout)
        self._snapshot: Snapshot = self._state.capture()
        self.snapshot_hash = self._snapshot.digest()
        if self._logs is not None:
            self._logs.take()

    def invoke(self, data: bytes) -> Output:
        self._check_input(data)
        store = self._store
        self._arm(store)
        reading = CURRENT.set(self.variables)
        try:
            out = self._call(store, data)
            return Output(out, self._logs.take() if self._logs is not None else b"")
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            raise self._trapped(exc, store, self._memory) from None
        finally:
            CURRENT.reset(reading)
            self.rewind()

    def _call(self, store: wasmtime.Store, data: bytes) -> bytes:
        size = len(data)
        ptr = self._alloc(size) & _U32
        if ptr + size > self._memory.data_len(store):
            raise ABIViolation("veil_alloc returned a pointer outside memory")
        ctypes.memmove(self._base + ptr, data, size)
        packed = self._invoke(ptr, size)
        out_ptr, out_len = (packed >> 32) & _U32, packed & _U32
        self._check_output(out_len)
        if out_ptr + out_len > self._memory.data_len(store):
            raise ABIViolation("output lies outside memory")
        return ctypes.string_at(self._base + out_ptr, out_len)

    def rewind(self) -> None:
        """Back to the post-init snapshot: in place if nothing grew, else a fresh instance."""
        # No API restores a dropped passive segment: such modules always get a fresh
        # instance. WASI state is reset only for modules that import a call able to
        # change it (docs/design/0001-rewind.md has the measurements).
        if self._layout.passive_segments or not self._state.rewind(self._snapshot):
            self._fresh_instance()
        elif self._layout.wasi_state:
            self._store.set_wasi(wasi_config(self._logs))
        if self._logs is not None:
            self._logs.take()

    def close(self) -> None:
        self._store.close()


def _compile(engine: SandboxEngine, bundle: Bundle) -> tuple[wasmtime.InstancePre, StateLayout]:
    rewritten, layout = export_state(bundle.code)
    return engine.compile_module(rewritten), layout


def _typed(store: wasmtime.Store, func: wasmtime.Func, params: int) -> NumCall:
    try:
        return NumCall.with_i32_params(store, func, params)
    except TypeError as exc:
        raise ABIViolation(f"export has the wrong signature: {exc}") from None


def _export(exports: Any, name: str, kind: type) -> Any:
    item = exports.get(name)
    if not isinstance(item, kind):
        raise ABIViolation(f"module must export {kind.__name__.lower()} {name!r}")
    return item

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
from veil.trusted.errors import FunctionError, MessageTooLarge
from veil.trusted.sandbox.api import Output
from veil.trusted.sandbox.engine import SandboxEngine
from veil.trusted.sandbox.errors import ABIViolation
from veil.trusted.sandbox.fastpath import NumCall
from veil.trusted.sandbox.snapshot import PAGE, InstanceState, Snapshot
from veil.trusted.sandbox.traps import classify
from veil.trusted.sandbox.wasm_binary import StateLayout, export_state

ALLOC_EXPORT = "veil_alloc"
INIT_EXPORT = "veil_init"
_U32 = 0xFFFFFFFF


class LogBuffer:
    """Collects a function's stdout/stderr for the sealed response, capped in size."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        room = self.limit - self.size
        if room > 0:
            self.chunks.append(bytes(data[:room]))
            self.size += min(len(data), room)

    def take(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        self.size = 0
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


class ReactorSandbox:
    """A reactor module with in-place rewind to its post-init snapshot."""

    def __init__(self, engine: SandboxEngine, bundle: Bundle) -> None:
        manifest = bundle.manifest
        self._engine = engine
        self._limits = manifest.limits
        self._entry = manifest.entrypoint
        self._logs = LogBuffer(manifest.limits.max_output) if manifest.capture_logs else None
        module, self._layout = engine.compiled(bundle.digest, lambda: _compile(engine, bundle.code))
        self._pre = engine.link_wasi(module)
        self._ticks = engine.deadline_ticks(self._limits.timeout_ms)
        self._fresh_instance()

    @property
    def snapshot_hash(self) -> bytes:
        return self._snapshot_hash

    def _fresh_instance(self) -> None:
        """Instantiate, run `veil_init`, and take the snapshot every request starts from."""
        store = wasmtime.Store(self._engine.engine)
        store.set_limits(memory_size=self._limits.memory_pages * PAGE, instances=1)
        store.set_wasi(wasi_config(self._logs))
        self._arm(store)
        try:
            instance = self._pre.instantiate(store)
            exports = instance.exports(store)
            self._memory = _export(exports, "memory", wasmtime.Memory)
            self._alloc = _typed(store, _export(exports, ALLOC_EXPORT, wasmtime.Func), 1)
            self._invoke = _typed(store, _export(exports, self._entry, wasmtime.Func), 2)
            init = exports.get(INIT_EXPORT)
            if isinstance(init, wasmtime.Func):
                init(store)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            raise classify(exc, at_memory_limit=False) from None
        self._store = store
        self._state = InstanceState(store, instance, self._layout)
        self._snapshot: Snapshot = self._state.capture()
        self._snapshot_hash = self._snapshot.digest()
        if self._logs is not None:
            self._logs.take()

    def _arm(self, store: wasmtime.Store) -> None:
        store.set_fuel(self._limits.fuel)
        store.set_epoch_deadline(self._ticks)

    def invoke(self, data: bytes) -> Output:
        if len(data) > self._limits.max_input:
            raise MessageTooLarge("input is over the function's max_input")
        store = self._store
        self._arm(store)
        try:
            out = self._call(store, data)
        except FunctionError:
            raise
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            at_limit = self._memory.data_len(store) >= self._limits.memory_pages * PAGE
            raise classify(exc, at_memory_limit=at_limit) from None
        finally:
            self.rewind()
        logs = self._logs.take() if self._logs is not None else b""
        return Output(out, logs)

    def _call(self, store: wasmtime.Store, data: bytes) -> bytes:
        size = len(data)
        ptr = self._alloc(size) & _U32
        if ptr + size > self._memory.data_len(store):
            raise ABIViolation("veil_alloc returned a pointer outside memory")
        base = ctypes.addressof(self._memory.data_ptr(store).contents)
        ctypes.memmove(base + ptr, data, size)
        packed = self._invoke(ptr, size)
        out_ptr, out_len = (packed >> 32) & _U32, packed & _U32
        if out_len > self._limits.max_output:
            raise ABIViolation("output is over the function's max_output")
        if out_ptr + out_len > self._memory.data_len(store):
            raise ABIViolation("output lies outside memory")
        base = ctypes.addressof(self._memory.data_ptr(store).contents)
        return ctypes.string_at(base + out_ptr, out_len)

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


def _compile(engine: SandboxEngine, code: bytes) -> tuple[wasmtime.Module, StateLayout]:
    rewritten, layout = export_state(code)
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

"""One wasmtime engine per enclave: fuel, epoch deadlines, and the compile cache.

Compiled modules are cached in memory by bundle digest, never loaded from
host storage: a compiled artefact is native code, and one the host could
swap would run with the enclave's full authority.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

import wasmtime
import wasmtime.component

from veil.trusted.sandbox.errors import ABIViolation
from veil.trusted.sandbox.variables import reactor_import

T = TypeVar("T")

EPOCH_TICK_S: Final = 0.005
"""How often the ticker advances the epoch; timeouts are rounded up to it."""


class SandboxEngine:
    """Owns the wasmtime `Engine` every sandbox of this enclave shares."""

    def __init__(self) -> None:
        config = wasmtime.Config()
        config.consume_fuel = True
        config.epoch_interruption = True
        config.cranelift_opt_level = "speed"
        # Linear memories never move (they grow inside their reservation), so a
        # sandbox may keep a memory's base address for in-place rewinds.
        config.memory_may_move = False
        # Only features whose state a rewind covers (docs/design/0001-rewind.md): no GC
        # heap, no exception objects, no shared memories, no suspended continuations.
        config.wasm_gc = config.wasm_exceptions = config.wasm_threads = False
        config.wasm_stack_switching = False
        self.engine = wasmtime.Engine(config)
        self._compiled: dict[bytes, Any] = {}
        self._lock = threading.Lock()
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()

    def compiled(self, digest: bytes, compile_: Callable[[], T]) -> T:
        """Run `compile_` once per bundle digest; later calls return its cached result."""
        with self._lock:
            if digest not in self._compiled:
                self._compiled[digest] = compile_()
            result: T = self._compiled[digest]
            return result

    def compile_module(self, wasm: bytes) -> wasmtime.InstancePre:
        """Compile a core module, its imports resolved against WASI and `veil.variable` only."""
        try:
            module = wasmtime.Module(self.engine, wasm)
        except wasmtime.WasmtimeError as exc:
            raise ABIViolation(f"code does not compile as Wasm: {exc}") from None
        linker = wasmtime.Linker(self.engine)
        linker.define_wasi()
        ty = wasmtime.FuncType([wasmtime.ValType.i32()] * 4, [wasmtime.ValType.i32()])
        linker.define_func("veil", "variable", ty, reactor_import, access_caller=True)
        try:
            return linker.instantiate_pre(module)
        except wasmtime.WasmtimeError as exc:
            raise ABIViolation(f"module imports something Veil does not provide: {exc}") from None

    def compile_component(self, wasm: bytes) -> wasmtime.component.Component:
        """Compile a Wasm component (Python functions); cache it with `compiled`."""
        try:
            return wasmtime.component.Component(self.engine, wasm)
        except wasmtime.WasmtimeError as exc:
            raise ABIViolation(f"code does not compile as a Wasm component: {exc}") from None

    def deadline_ticks(self, timeout_ms: int) -> int:
        """Epoch ticks for `timeout_ms`, starting the ticker thread on first use."""
        with self._lock:
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick, name="veil-epoch", daemon=True)
                self._ticker.start()
        return max(1, -(-timeout_ms // int(EPOCH_TICK_S * 1000))) + 1

    def _tick(self) -> None:
        while not self._stop.wait(EPOCH_TICK_S):
            self.engine.increment_epoch()

    def close(self) -> None:
        self._stop.set()
        time.sleep(0)

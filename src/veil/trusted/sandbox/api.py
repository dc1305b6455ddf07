"""The interface every sandbox runtime implements, and the limits they all enforce."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import wasmtime

from veil.trusted.bundle import Bundle
from veil.trusted.errors import FunctionError, MessageTooLarge
from veil.trusted.sandbox.engine import SandboxEngine
from veil.trusted.sandbox.errors import ABIViolation, classify
from veil.trusted.sandbox.snapshot import PAGE
from veil.trusted.sandbox.variables import Variables


@dataclass(frozen=True)
class Output:
    """What one invocation produced; `logs` is captured stdout/stderr when the manifest asks."""

    data: bytes
    logs: bytes = b""


class Sandbox(Protocol):
    """One loaded function, ready to serve requests one at a time.

    `invoke` enforces the manifest limits, raises a `FunctionError` subclass
    on failure, and always leaves the sandbox rewound to `snapshot_hash`'s
    state (named in receipts), whether the call succeeded or not.
    """

    snapshot_hash: bytes
    variables: Variables

    def invoke(self, data: bytes) -> Output: ...

    def close(self) -> None: ...


class Limited:
    """What every runtime shares: its manifest's limits, applied to each store, input and output."""

    snapshot_hash: bytes

    def __init__(self, engine: SandboxEngine, bundle: Bundle) -> None:
        self._engine = engine
        self._limits = bundle.manifest.limits
        self._ticks = engine.deadline_ticks(self._limits.timeout_ms)
        self.variables = Variables(bundle.manifest.config)

    def _new_store(self, wasi: wasmtime.WasiConfig, instances: int = 1) -> wasmtime.Store:
        """A store capped at the manifest's memory, armed for one request."""
        store = wasmtime.Store(self._engine.engine)
        store.set_limits(memory_size=self._limits.memory_pages * PAGE, instances=instances)
        store.set_wasi(wasi)
        self._arm(store)
        return store

    def _arm(self, store: wasmtime.Store) -> None:
        """Refill the fuel and restart the epoch deadline: before each request."""
        store.set_fuel(self._limits.fuel)
        store.set_epoch_deadline(self._ticks)

    def _check_input(self, data: bytes) -> None:
        if len(data) > self._limits.max_input:
            raise MessageTooLarge("input is over the function's max_input")

    def _check_output(self, size: int) -> None:
        if size > self._limits.max_output:
            raise ABIViolation("output is over the function's max_output")

    def _trapped(
        self, exc: Exception, store: wasmtime.Store, memory: object = None
    ) -> FunctionError:
        """The typed error for guest code's failure (out of memory if `memory` is at its cap)."""
        full = isinstance(memory, wasmtime.Memory) and (
            memory.data_len(store) >= self._limits.memory_pages * PAGE
        )
        return classify(exc, at_memory_limit=full)

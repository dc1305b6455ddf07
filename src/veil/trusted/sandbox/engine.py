"""One wasmtime engine per enclave: fuel, epoch deadlines, and the compile cache.

Compiled modules are cached in memory by bundle digest, never loaded from
host storage: a compiled artefact is native code, and one the host could
swap would run with the enclave's full authority.
"""

from __future__ import annotations

import threading
import time
from typing import Final

import wasmtime

EPOCH_TICK_S: Final = 0.005
"""How often the ticker advances the epoch; timeouts are rounded up to it."""


class SandboxEngine:
    """Owns the wasmtime `Engine` every sandbox of this enclave shares."""

    def __init__(self) -> None:
        config = wasmtime.Config()
        config.consume_fuel = True
        config.epoch_interruption = True
        config.cranelift_opt_level = "speed"
        self.engine = wasmtime.Engine(config)
        self._modules: dict[bytes, wasmtime.Module] = {}
        self._lock = threading.Lock()
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()

    def module(self, digest: bytes, wasm: bytes) -> wasmtime.Module:
        """Compile `wasm` once per bundle digest; later calls return the cached module."""
        with self._lock:
            cached = self._modules.get(digest)
            if cached is None:
                cached = wasmtime.Module(self.engine, wasm)
                self._modules[digest] = cached
            return cached

    def is_cached(self, digest: bytes) -> bool:
        return digest in self._modules

    def deadline_ticks(self, timeout_ms: int) -> int:
        """Epoch ticks for `timeout_ms`, starting the ticker thread on first use."""
        if self._ticker is None:
            with self._lock:
                if self._ticker is None:
                    self._ticker = threading.Thread(
                        target=self._tick, name="veil-epoch", daemon=True
                    )
                    self._ticker.start()
        return max(1, -(-timeout_ms // int(EPOCH_TICK_S * 1000))) + 1

    def _tick(self) -> None:
        while not self._stop.wait(EPOCH_TICK_S):
            self.engine.increment_epoch()

    def close(self) -> None:
        self._stop.set()
        time.sleep(0)

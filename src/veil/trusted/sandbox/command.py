"""The WASI command ABI: stdin in, stdout out, one fresh instance per request.

A command's `_start` runs the whole program and then it exits, so it has no
post-init state to snapshot: the rewind is the fresh instance itself, and
the snapshot hash is the hash of the module. Any language that targets WASI
works here. The world is empty: no preopened directories, no environment,
argv is just the function name; stdin is an anonymous in-memory file.
"""

from __future__ import annotations

import os

import wasmtime

from veil.trusted.bundle import Bundle
from veil.trusted.crypto.digest import sha256
from veil.trusted.sandbox.api import Limited, Output
from veil.trusted.sandbox.engine import SandboxEngine
from veil.trusted.sandbox.errors import ABIViolation, FunctionFailed


class CommandSandbox(Limited):
    def __init__(self, engine: SandboxEngine, bundle: Bundle) -> None:
        super().__init__(engine, bundle)
        self._name = bundle.manifest.name
        self._capture = bundle.manifest.capture_logs
        module = engine.compiled(bundle.digest, lambda: engine.compile_module(bundle.code))
        self._pre = engine.link_wasi(module)
        self.snapshot_hash = sha256(b"veil/snapshot/wasi-command/v1", bundle.code)

    def invoke(self, data: bytes) -> Output:
        self._check_input(data)
        with (
            _MemFile("stdin", data) as stdin,
            _MemFile("stdout") as stdout,
            _MemFile("stderr") as stderr,
        ):
            config = wasmtime.WasiConfig()
            config.argv = [self._name]
            config.env = []
            config.stdin_file = stdin.path
            config.stdout_file = stdout.path
            config.stderr_file = stderr.path
            store = self._new_store(config)
            try:
                self._run(store)
            finally:
                # Drop the store now: WASI's file threads must not outlive it.
                store.close()
            out = stdout.read(self._limits.max_output + 1)
            logs = stderr.read(self._limits.max_output) if self._capture else b""
        self._check_output(len(out))
        return Output(out, logs)

    def _run(self, store: wasmtime.Store) -> None:
        instance = None
        try:
            instance = self._pre.instantiate(store)
            start = instance.exports(store).get("_start")
            if not isinstance(start, wasmtime.Func):
                raise ABIViolation("a WASI command must export _start")
            start(store)
        except wasmtime.ExitTrap as exit_:
            if exit_.code != 0:
                raise FunctionFailed(f"command exited with status {exit_.code}") from None
        except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
            memory = instance.exports(store).get("memory") if instance is not None else None
            raise self._trapped(exc, store, memory) from None

    def close(self) -> None:
        pass


class _MemFile:
    """An anonymous in-memory file (memfd), reachable by path only through /proc/self/fd.

    WASI stdio takes paths; a memfd keeps the request's bytes off every
    filesystem and avoids Python callbacks from wasmtime's I/O threads.
    """

    def __init__(self, name: str, content: bytes = b"") -> None:
        self._fd = os.memfd_create(f"veil-{name}", os.MFD_CLOEXEC)
        if content:
            os.write(self._fd, content)
        self.path = f"/proc/self/fd/{self._fd}"

    def read(self, limit: int) -> bytes:
        return os.pread(self._fd, limit, 0)

    def __enter__(self) -> _MemFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        os.close(self._fd)

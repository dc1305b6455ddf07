"""A function that prints: a reactor module that writes its input to stdout and answers "ok".

Its output never holds the input, so whatever of the input a test finds
came from the function's log, sealed to the tenant in the enclave.
"""

from __future__ import annotations

import wasmtime

from veil.trusted.bundle import Bundle, Manifest

PRINTER = """(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "ok")
  (global $heap (mut i32) (i32.const 1024))
  (func (export "veil_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "veil_invoke") (param $p i32) (param $n i32) (result i64)
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (local.get $n))
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 2))))"""


def printing_bundle(name: str = "acme/printer") -> Bundle:
    """Prints its input (captured: `capture_logs`), answers b"ok"."""
    return Bundle(Manifest(name, "1", capture_logs=True), bytes(wasmtime.wat2wasm(PRINTER)))

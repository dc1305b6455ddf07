"""Issue 10, class 6: one request's residue read by the next, one row per kind of instance state.

Every row is a reactor module built from one template: a request whose
input starts with `d` disturbs one piece of instance state, any other
request reads that state back as one output byte. A host that could make
the second request see the first one's residue would have a channel
between clients. Each row names its defence: the state is restored in
place, the module gets a fresh instance for every request, or the module
is refused at load with the typed error given.
"""

from __future__ import annotations

from dataclasses import dataclass

import wasmtime

from veil.trusted.sandbox.errors import ABIViolation

TEMPLATE = """
(module
  {imports}
  {memory}
  {decls}
  (func (export "veil_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "veil_invoke") (param $p i32) (param $n i32) (result i64)
    (i32.store8 (i32.const 512)
      (if (result i32) (i32.eq (i32.load8_u (local.get $p)) (i32.const 100))
        (then {disturb} (i32.const 100))
        (else {read})))
    (i64.or (i64.shl (i64.const 512) (i64.const 32)) (i64.const 1))))
"""
MEMORY = '(memory (export "memory") 1)'
FUNCS = """(type $t (func (result i32)))
  (func $a (result i32) (i32.const 65))
  (func $b (result i32) (i32.const 66))"""
WASI = """(import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $write (param i32 i32 i32 i32) (result i32)))"""


@dataclass(frozen=True)
class StateKind:
    """One piece of instance state, how a request changes it, how the next one reads it."""

    name: str
    disturb: str
    read: str
    decls: str = ""
    imports: str = ""
    memory: str = MEMORY
    refused: type[Exception] | None = None
    """The typed error at load, if the defence is refusal; else the rewind covers it."""

    def wasm(self) -> bytes:
        return wasmtime.wat2wasm(
            TEMPLATE.format(
                imports=self.imports,
                memory=self.memory,
                decls=self.decls,
                disturb=self.disturb,
                read=self.read,
            )
        )


KINDS = (
    StateKind(
        "memory contents",
        "(i32.store8 (i32.const 700) (i32.const 88))",
        "(i32.load8_u (i32.const 700))",
    ),
    StateKind(
        "mutable global",
        "(global.set $g (i32.const 57))",
        "(global.get $g)",
        decls="(global $g (mut i32) (i32.const 48))",
    ),
    StateKind("memory size (memory.grow)", "(drop (memory.grow (i32.const 1)))", "(memory.size)"),
    StateKind(
        "funcref table entry (table.set)",
        "(table.set $tbl (i32.const 0) (ref.func $b))",
        "(call_indirect $tbl (type $t) (i32.const 0))",
        decls=f"{FUNCS} (table $tbl 2 funcref) (elem (i32.const 0) $a $b)",
    ),
    StateKind(
        "table size (table.grow)",
        "(drop (table.grow $tbl (ref.null func) (i32.const 3)))",
        "(table.size $tbl)",
        decls="(table $tbl 1 funcref)",
    ),
    StateKind(
        "passive data segment (data.drop)",
        "(data.drop $seg)",
        "(memory.init $seg (i32.const 600) (i32.const 0) (i32.const 1))"
        " (i32.load8_u (i32.const 600))",
        decls='(data $seg "S")',
    ),
    StateKind(
        "passive element segment (elem.drop)",
        "(elem.drop $seg)",
        "(table.init $tbl $seg (i32.const 0) (i32.const 0) (i32.const 1))"
        " (call_indirect $tbl (type $t) (i32.const 0))",
        decls=f"{FUNCS} (table $tbl 1 funcref) (elem $seg func $a)",
    ),
    StateKind(
        "WASI descriptor table (fd_close)",
        "(drop (call $close (i32.const 1)))",
        "(i32.add (i32.const 48)"
        " (call $write (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 16)))",
        imports=WASI,
    ),
    StateKind(
        "GC heap object (struct.set)",
        "(struct.set $s 0 (global.get $g) (i32.const 57))",
        "(struct.get $s 0 (global.get $g))",
        decls="(type $s (struct (field (mut i32)))) (global $g (mut (ref null $s)) (ref.null $s))"
        ' (func (export "veil_init") (global.set $g (struct.new $s (i32.const 48))))',
        refused=ABIViolation,
    ),
    StateKind(
        "exception object in a global (exnref)",
        "(global.set $e (block $h (result exnref)"
        " (try_table (catch_all_ref $h) (throw $x)) (unreachable)))",
        "(ref.is_null (global.get $e))",
        decls="(tag $x) (global $e (mut exnref) (ref.null exn))",
        refused=ABIViolation,
    ),
    StateKind(
        "shared memory",
        "(i32.store8 (i32.const 700) (i32.const 88))",
        "(i32.load8_u (i32.const 700))",
        memory='(memory (export "memory") 1 1 shared)',
        refused=ABIViolation,
    ),
    StateKind(
        "imported mutable global",
        "(global.set $g (i32.const 57))",
        "(global.get $g)",
        imports='(import "env" "g" (global $g (mut i32)))',
        refused=ABIViolation,
    ),
)

"""The module rewriter exports every piece of mutable state, and parses nothing it cannot."""

from __future__ import annotations

import contextlib

import pytest
import wasmtime
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.samples import wasm
from veil.trusted.sandbox.wasm_binary import MAGIC, UnsupportedModule, export_state, state_layout

STATEFUL = """
(module
  (import "env" "g" (global $imported (mut i32)))
  (import "env" "f" (func $f))
  (memory 1)
  (table 3 funcref)
  (global $a (mut i32) (i32.const 1))
  (global $b i64 (i64.const 2))
  (global $c (mut f64) (f64.const 3.5))
  (export "keep" (func $f)))
"""


def test_layout_counts_imported_globals_in_the_index_space() -> None:
    layout = state_layout(wasmtime.wat2wasm(STATEFUL))
    assert layout.globals == (1, 3)
    assert layout.memories == (0,)
    assert layout.tables == (0,)


def test_rewritten_module_validates_and_exports_state_beside_its_own_exports() -> None:
    rewritten, _ = export_state(wasmtime.wat2wasm(STATEFUL))
    module = wasmtime.Module(wasmtime.Engine(), rewritten)
    names = {e.name for e in module.exports}
    assert names == {
        "keep",
        "__veil_state_memory_0",
        "__veil_state_global_1",
        "__veil_state_global_3",
        "__veil_state_table_0",
    }


def test_module_without_export_section_gets_one() -> None:
    rewritten, _ = export_state(wasmtime.wat2wasm("(module (global (mut i32) (i32.const 0)))"))
    module = wasmtime.Module(wasmtime.Engine(), rewritten)
    assert [e.name for e in module.exports] == ["__veil_state_global_0"]


def test_imported_memory_is_refused() -> None:
    with pytest.raises(UnsupportedModule, match="imported memories"):
        state_layout(wasmtime.wat2wasm('(module (import "env" "m" (memory 1)))'))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_after_the_header_raises_only_unsupported_module(tail: bytes) -> None:
    with contextlib.suppress(UnsupportedModule):
        export_state(MAGIC + tail)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(wasm("sha256")) - 1))
def test_every_truncation_of_a_real_module_raises_only_unsupported_module(cut: int) -> None:
    with contextlib.suppress(UnsupportedModule):
        export_state(wasm("sha256")[:cut])


SEGMENTS = """
(module
  (memory 1)
  (table $t 4 funcref)
  (func $f)
  (elem (i32.const 0) $f)
  (elem (table $t) (i32.const 1) func $f)
  (elem declare func $f)
  (elem (i32.const 2) funcref (ref.func $f))
  (elem (table $t) (i32.const 3) funcref (ref.null func))
  (elem declare funcref (ref.func $f))
  (data (i32.const 0) "active")
  (data (memory 0) (i32.const 8) "explicit")
  {last})
"""


@pytest.mark.parametrize(
    ("last", "passive"),
    [
        ("", False),
        ('(data "passive")', True),
        ("(elem func $f)", True),
        ("(elem funcref (ref.func $f))", True),
    ],
)
def test_layout_finds_a_passive_segment_after_every_other_segment_form(
    last: str, passive: bool
) -> None:
    assert state_layout(wasmtime.wat2wasm(SEGMENTS.format(last=last))).passive_segments is passive


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_every_truncation_of_a_module_with_segments_raises_only_unsupported_module(
    data: st.DataObject,
) -> None:
    module = wasmtime.wat2wasm(SEGMENTS.format(last='(data "passive")'))
    with contextlib.suppress(UnsupportedModule):
        state_layout(module[: data.draw(st.integers(0, len(module) - 1))])


def wasi_import(name: str) -> bytes:
    params = "(param i32) (result i32)"
    return wasmtime.wat2wasm(f'(module (import "wasi_snapshot_preview1" "{name}" (func {params})))')


@pytest.mark.parametrize("name", ["fd_write", "random_get", "clock_time_get", "proc_exit"])
def test_wasi_calls_that_change_no_wasi_state_need_no_reset(name: str) -> None:
    assert not state_layout(wasi_import(name)).wasi_state


@pytest.mark.parametrize("name", ["fd_close", "fd_renumber", "fd_fdstat_set_flags", "path_open"])
def test_wasi_calls_that_can_change_wasi_state_mark_the_layout(name: str) -> None:
    assert state_layout(wasi_import(name)).wasi_state

"""The reactor sandbox: limits become typed errors, and every request starts from the snapshot."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import wasmtime

from tests.conftest import small_limits
from veil.samples import wasm
from veil.trusted.bundle import Bundle, Limits, Manifest
from veil.trusted.errors import MessageTooLarge
from veil.trusted.sandbox.api import Output
from veil.trusted.sandbox.engine import SandboxEngine
from veil.trusted.sandbox.errors import (
    ABIViolation,
    FunctionOutOfMemory,
    FunctionTimeout,
    FunctionTrapped,
)
from veil.trusted.sandbox.loader import load_sandbox
from veil.trusted.sandbox.reactor import LogBuffer, ReactorSandbox

WAT = Path(__file__).parent / "wat"


def module(name: str) -> bytes:
    return wasmtime.wat2wasm((WAT / f"{name}.wat").read_text())


def sandbox(code: bytes, **manifest: object) -> ReactorSandbox:
    limits = manifest.pop("limits", small_limits())
    bundle = Bundle(Manifest("t/fn", "1", limits=limits, **manifest), code)  # type: ignore[arg-type]
    return ReactorSandbox(SandboxEngine(), bundle)


def test_echo_returns_its_input() -> None:
    assert sandbox(wasm("echo")).invoke(b"hello").data == b"hello"


@pytest.mark.parametrize("size", [0, 1, 55, 56, 63, 64, 65, 119, 1000, 65536])
def test_sha256_sample_matches_hashlib(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    assert (
        sandbox(wasm("sha256"), limits=Limits()).invoke(data).data == hashlib.sha256(data).digest()
    )


def test_logs_come_back_with_their_own_request_when_the_manifest_captures_them() -> None:
    sb = sandbox(module("logger"), capture_logs=True)
    assert sb.invoke(b"first") == Output(b"first", b"first")
    assert sb.invoke(b"second") == Output(b"second", b"second")


def test_logs_are_dropped_unless_the_manifest_captures_them() -> None:
    assert sandbox(module("logger")).invoke(b"quiet") == Output(b"quiet", b"")


def test_logs_stop_at_their_cap_and_start_empty_after_each_take() -> None:
    logs = LogBuffer(5)
    for chunk in (b"abc", b"defg", b"h"):
        logs.write(chunk)
    assert (logs.take(), logs.take()) == (b"abcde", b"")


def test_infinite_loop_times_out_and_the_sandbox_keeps_serving() -> None:
    sb = sandbox(module("loop"))
    with pytest.raises(FunctionTimeout):
        sb.invoke(b"x")
    with pytest.raises(FunctionTimeout):
        sb.invoke(b"x")


def test_wall_clock_deadline_stops_a_loop_even_with_ample_fuel() -> None:
    sb = sandbox(module("loop"), limits=small_limits(fuel=10**15, timeout_ms=50))
    with pytest.raises(FunctionTimeout):
        sb.invoke(b"x")


def test_memory_bomb_is_out_of_memory_and_memory_is_back_to_its_snapshot_size() -> None:
    sb = sandbox(module("membomb"))
    with pytest.raises(FunctionOutOfMemory):
        sb.invoke(b"x")
    assert sb._memory.data_len(sb._store) == 65536


def test_trap_is_reported_as_trapped() -> None:
    with pytest.raises(FunctionTrapped, match="unreachable"):
        sandbox(module("trap")).invoke(b"x")


def test_a_function_cannot_see_the_previous_request_in_globals_or_memory() -> None:
    sb = sandbox(module("leaky"))
    assert (
        sb.invoke(b"secret-of-alice-0123456789abcdef").data == b"secret-of-alice-0123456789abcdef"
    )
    assert sb.invoke(b"bob").data == b"bob" + bytes(29)


def test_memory_grown_by_a_request_is_gone_for_the_next() -> None:
    sb = sandbox(module("grower"))
    outs = {sb.invoke(b"").data for _ in range(3)}
    assert outs == {b"1"}
    assert sb._memory.data_len(sb._store) == 65536


def test_table_swaps_are_undone_by_rewind() -> None:
    sb = sandbox(module("tables"))
    assert [sb.invoke(b"").data for _ in range(3)] == [b"1", b"1", b"1"]


def test_init_state_is_part_of_the_snapshot() -> None:
    sb = sandbox(module("initcount"))
    assert [sb.invoke(b"").data for _ in range(2)] == [b"R1", b"R1"]


def test_snapshot_hash_is_stable_across_requests_and_instances() -> None:
    a, b = sandbox(module("grower")), sandbox(module("grower"))
    h = a.snapshot_hash
    a.invoke(b"")
    assert a.snapshot_hash == h == b.snapshot_hash


def test_output_outside_memory_is_an_abi_violation_and_the_sandbox_keeps_serving() -> None:
    sb = sandbox(module("badout"))
    with pytest.raises(ABIViolation):
        sb.invoke(b"x")
    with pytest.raises(ABIViolation):
        sb.invoke(b"x")


def test_module_without_allocator_is_refused_at_load() -> None:
    with pytest.raises(ABIViolation, match="veil_alloc"):
        sandbox(module("noalloc"))


def test_bytes_that_are_not_wasm_are_refused_at_load() -> None:
    with pytest.raises(ABIViolation):
        sandbox(b"\x00asm\x01\x00\x00\x00\x01\xff")


def test_input_over_the_manifest_limit_is_refused_before_running() -> None:
    with pytest.raises(MessageTooLarge):
        sandbox(wasm("echo"), limits=small_limits(max_input=8)).invoke(b"123456789")


def test_output_over_the_manifest_limit_is_an_abi_violation() -> None:
    with pytest.raises(ABIViolation, match="max_output"):
        sandbox(wasm("echo"), limits=small_limits(max_output=4)).invoke(b"12345")


def test_compiled_module_is_cached_per_bundle_digest() -> None:
    engine = SandboxEngine()
    bundle = Bundle(Manifest("t/fn", "1"), wasm("echo"))
    load_sandbox(engine, bundle)
    calls: list[int] = []
    engine.compiled(bundle.digest, lambda: calls.append(1))
    assert calls == []

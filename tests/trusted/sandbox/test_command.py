"""The WASI command ABI: stdin to stdout, a fresh instance per request, an empty world."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime

from tests.conftest import small_limits
from veil.samples import wasm
from veil.trusted.bundle import Bundle, Manifest
from veil.trusted.sandbox.command import CommandSandbox
from veil.trusted.sandbox.engine import SandboxEngine
from veil.trusted.sandbox.errors import FunctionTimeout

WAT = Path(__file__).parent / "wat"
ERRNO_BADF = b"08"


def command(code: bytes, **limits: int) -> CommandSandbox:
    manifest = Manifest("t/cmd", "1", abi="wasi-command", limits=small_limits(**limits))
    return CommandSandbox(SandboxEngine(), Bundle(manifest, code))


def test_stdin_comes_back_upper_cased_on_stdout() -> None:
    assert command(wasm("upper")).invoke(b"hello, wasi").data == b"HELLO, WASI"


def test_large_input_streams_through() -> None:
    data = b"abc" * 50_000
    assert command(wasm("upper"), memory_pages=16).invoke(data).data == data.upper()


def test_each_request_gets_a_fresh_instance() -> None:
    sb = command(wasm("upper"))
    assert sb.invoke(b"one").data == b"ONE"
    assert sb.invoke(b"two").data == b"TWO"


def test_no_host_file_is_reachable() -> None:
    code = wasmtime.wat2wasm((WAT / "catfile.wat").read_text())
    assert command(code).invoke(b"").data == ERRNO_BADF


def test_a_command_that_never_exits_times_out() -> None:
    code = wasmtime.wat2wasm((WAT / "spin_command.wat").read_text())
    with pytest.raises(FunctionTimeout):
        command(code).invoke(b"")

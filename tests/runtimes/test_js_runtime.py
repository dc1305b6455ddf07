"""JavaScript functions: QuickJS-NG in the Wasm sandbox, forked per request from a snapshot."""

from __future__ import annotations

import json

import pytest

from veil.trusted.bundle import Bundle, Limits, Manifest
from veil.trusted.sandbox.api import Output
from veil.trusted.sandbox.errors import (
    ABIViolation,
    FunctionFailed,
    FunctionOutOfMemory,
    FunctionTimeout,
)
from veil.trusted.sandbox.quickjs import ENGINE_SHA256, QuickJsSandbox, engine_wasm


def js(source: str, **manifest: object) -> Bundle:
    return Bundle(Manifest("t/js", "1", runtime="js", abi="quickjs", **manifest), source.encode())


def test_round_trip_returns_the_handlers_text_and_captures_console_output(load):
    out = load("js-hello").invoke(b"ada")
    assert out.data == b"hello, ada!"
    assert out.logs == b"greeting ada\n"


def test_json_helpers_parse_the_request_and_serialise_the_response(load):
    payload = {"n": [1, 2], "s": "\u00e9\U0001f600"}
    out = load("js-hello").invoke(json.dumps(payload).encode())
    assert json.loads(out.data) == {"greeting": "hello", "echo": payload}


def test_an_async_handler_is_awaited(load):
    assert json.loads(load("js-probe").invoke(b"async").data) == {"answer": 42}


def test_a_rejected_promise_is_a_function_failure_with_the_stack(load):
    with pytest.raises(FunctionFailed, match=r"RangeError: async tenant bug[\s\S]*handler\.js"):
        load("js-probe").invoke(b"reject")


def test_a_promise_that_never_settles_is_a_function_failure(load):
    with pytest.raises(FunctionFailed, match="never settled"):
        load("js-probe").invoke(b"never")


def test_a_module_level_global_never_sees_a_previous_request(load):
    sandbox = load("js-probe")
    assert json.loads(sandbox.invoke(b"remember:first").data) == ["remember:first"]
    assert json.loads(sandbox.invoke(b"remember:second").data) == ["remember:second"]


def test_an_infinite_loop_times_out_and_the_sandbox_keeps_serving(load):
    sandbox = load("js-probe")
    with pytest.raises(FunctionTimeout):
        sandbox.invoke(b"loop")
    assert json.loads(sandbox.invoke(b"remember:after").data) == ["remember:after"]


def test_a_memory_bomb_is_out_of_memory_and_the_sandbox_keeps_serving(load):
    sandbox = load("js-probe")
    with pytest.raises(FunctionOutOfMemory):
        sandbox.invoke(b"bomb")
    assert json.loads(sandbox.invoke(b"remember:after").data) == ["remember:after"]


def test_an_exception_in_the_handler_carries_the_users_stack(load):
    with pytest.raises(FunctionFailed, match=r"TypeError: tenant bug\n\s+at handle \(handler\.js"):
        load("js-probe").invoke(b"raise")


def test_no_std_os_fetch_or_timers_are_reachable(load):
    exposed = json.loads(load("js-probe").invoke(b"capabilities").data)
    assert set(exposed.values()) == {"undefined"}


def test_importing_the_std_module_fails(load):
    assert load("js-probe").invoke(b"import").data.startswith(b"refused: ")


def test_math_random_differs_between_requests_despite_the_shared_snapshot(load):
    sandbox = load("js-probe")
    assert sandbox.invoke(b"random").data != sandbox.invoke(b"random").data


def test_a_request_that_grows_memory_is_rewound_into_a_fresh_instance(engine):
    grow = """export function handle(r) {
      const a = new Uint8Array(4 << 20); a[1] = 7; return "n=" + a[1];
    }"""
    sandbox = QuickJsSandbox(engine, js(grow, limits=Limits(memory_pages=512)))
    snapshot = sandbox.snapshot_hash
    assert [sandbox.invoke(b"").data for _ in range(3)] == [b"n=7"] * 3
    assert sandbox.snapshot_hash == snapshot


def test_logs_are_dropped_unless_the_manifest_captures_them(engine):
    source = "export const handle = () => { console.log('x'); return 'ok'; }"
    quiet = QuickJsSandbox(engine, js(source))
    assert quiet.invoke(b"") == Output(b"ok", b"")


def test_a_handler_without_a_handle_export_is_an_abi_violation(engine):
    with pytest.raises(ABIViolation):
        QuickJsSandbox(engine, js("export const other = 1;"))


def test_a_syntax_error_fails_the_load_with_the_parser_message(engine):
    with pytest.raises(FunctionFailed, match="SyntaxError"):
        QuickJsSandbox(engine, js("export function handle( {"))


def test_a_module_body_that_throws_fails_the_load_with_its_stack(engine):
    with pytest.raises(FunctionFailed, match=r"Error: init failed\n\s+at .*handler\.js"):
        QuickJsSandbox(engine, js("throw new Error('init failed'); export const handle = () => 1;"))


def test_top_level_await_is_settled_before_the_snapshot(engine):
    source = "const x = await Promise.resolve(5); export const handle = () => `x=${x}`;"
    assert QuickJsSandbox(engine, js(source)).invoke(b"").data == b"x=5"


def test_the_engine_is_the_pinned_quickjs_build():
    from veil.trusted.crypto.digest import sha256

    assert sha256(engine_wasm()) == ENGINE_SHA256

"""Python functions: componentize-py components in the Wasm sandbox, fresh per request."""

from __future__ import annotations

import json

import pytest

from veil.trusted.sandbox.errors import FunctionFailed, FunctionOutOfMemory, FunctionTimeout


def test_round_trip_returns_the_handlers_text_and_captures_its_prints(load):
    out = load("python-hello").invoke(b"ada")
    assert out.data == b"hello, ada!"
    assert out.logs == b"greeting ada\n"


def test_json_helpers_parse_the_request_and_serialise_the_response(load):
    out = load("python-hello").invoke(json.dumps({"n": [1, 2], "s": "\u00e9"}).encode())
    assert json.loads(out.data) == {"greeting": "hello", "echo": {"n": [1, 2], "s": "\u00e9"}}


def test_a_vendored_pure_python_package_is_importable(load):
    out = load("python-vendored").invoke(b"the cat saw the dog")
    assert json.loads(out.data) == {
        "words": 5,
        "distinct": 4,
        "top": ["the", "cat", "dog"],
        "version": "1.0.0",
    }


def test_a_module_level_global_never_sees_a_previous_request(load):
    sandbox = load("python-probe")
    assert json.loads(sandbox.invoke(b"remember:first").data) == ["remember:first"]
    assert json.loads(sandbox.invoke(b"remember:second").data) == ["remember:second"]


def test_an_infinite_loop_times_out_and_the_sandbox_keeps_serving(load):
    sandbox = load("python-probe")
    with pytest.raises(FunctionTimeout):
        sandbox.invoke(b"loop")
    assert json.loads(sandbox.invoke(b"remember:after").data) == ["remember:after"]


def test_a_memory_bomb_is_out_of_memory_and_the_sandbox_keeps_serving(load):
    sandbox = load("python-probe")
    with pytest.raises(FunctionOutOfMemory):
        sandbox.invoke(b"bomb")
    assert json.loads(sandbox.invoke(b"remember:after").data) == ["remember:after"]


def test_an_exception_in_the_handler_carries_the_users_traceback(load):
    with pytest.raises(FunctionFailed) as raised:
        load("python-probe").invoke(b"raise")
    message = str(raised.value)
    assert "Traceback" in message
    assert "app.py" in message and "in handle" in message
    assert "ValueError: tenant bug" in message


def test_connecting_a_socket_is_denied_inside_the_sandbox(load):
    # A refusal by the host's loopback would be ConnectionRefusedError: this is WASI saying no.
    assert load("python-probe").invoke(b"socket").data.startswith(b"refused: PermissionError")


def test_reading_etc_passwd_fails_inside_the_sandbox(load):
    assert load("python-probe").invoke(b"passwd").data == b"refused: FileNotFoundError"


def test_the_environment_is_empty_inside_the_sandbox(load):
    assert json.loads(load("python-probe").invoke(b"env").data) == {}


def test_raw_writes_to_stdout_and_stderr_land_in_the_logs(load):
    out = load("python-probe").invoke(b"print")
    assert out.data == b"printed"
    assert b"to stdout\n" in out.logs and b"raw stderr\n" in out.logs


def test_random_differs_between_requests_despite_the_shared_snapshot(load):
    sandbox = load("python-probe")
    assert sandbox.invoke(b"random").data != sandbox.invoke(b"random").data


def test_every_request_starts_from_the_same_snapshot_hash(load):
    sandbox = load("python-probe")
    before = sandbox.snapshot_hash
    sandbox.invoke(b"remember:x")
    assert sandbox.snapshot_hash == before

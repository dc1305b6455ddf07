"""`variable(name)` in JavaScript (`veil.variable`) and Python (`veil_function.variable`).

Both probes have `[config] greeting` in their veil.toml; the secrets are the
ones the enclave puts in `sandbox.variables` from the function's key grant.
"""

from __future__ import annotations

import json

import pytest

PROBES = ["js-probe", "python-probe"]


def read(sandbox, name: str):
    return json.loads(sandbox.invoke(f"variable:{name}".encode()).data)


@pytest.mark.parametrize("probe", PROBES)
def test_a_function_reads_a_secret(load, probe):
    sandbox = load(probe)
    sandbox.variables.secrets = {"api-token": b"v1-token"}
    assert read(sandbox, "api-token") == "v1-token"


@pytest.mark.parametrize("probe", PROBES)
def test_a_function_reads_a_config_value(load, probe):
    assert read(load(probe), "greeting") == "hello from config"


@pytest.mark.parametrize("probe", PROBES)
def test_a_name_that_is_neither_reads_as_none(load, probe):
    assert read(load(probe), "no-such-thing") is None


@pytest.mark.parametrize("probe", PROBES)
def test_a_secret_shadows_a_config_value_of_the_same_name(load, probe):
    sandbox = load(probe)
    sandbox.variables.secrets = {"greeting": b"from the secret"}
    assert read(sandbox, "greeting") == "from the secret"


@pytest.mark.parametrize("probe", PROBES)
def test_a_rotated_secret_is_read_on_the_next_request_from_the_same_snapshot(load, probe):
    sandbox = load(probe)
    sandbox.variables.secrets = {"api-token": b"v1-token"}
    snapshot = sandbox.snapshot_hash
    assert read(sandbox, "api-token") == "v1-token"
    sandbox.variables.secrets = {"api-token": b"v2-token"}
    assert read(sandbox, "api-token") == "v2-token"
    assert sandbox.snapshot_hash == snapshot  # secrets never enter the snapshot or its hash


@pytest.mark.parametrize("name", ["constructor", "__proto__", "toString", "hasOwnProperty"])
def test_javascript_object_builtins_are_not_variables(load, name):
    assert read(load("js-probe"), name) is None


def test_the_request_body_after_the_variables_is_intact(load):
    sandbox = load("js-probe")
    sandbox.variables.secrets = {"k": b"x" * 5000, "q": "é\u2603".encode()}
    assert read(sandbox, "q") == "é\u2603"
    assert sandbox.invoke(b"remember:a").data == b'["remember:a"]'

"""Every scaffold and sample serves an input as large as its input limit, and refuses a larger one.

The limits a function starts with must fit each other: memory for the
whole input and output, fuel for the runtime to read it. A scaffold that
trapped past 32 KiB under a 1 MiB input limit was a function that failed
in production, not in a test.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli.conftest import PythonDeploy
from tests.cli.runs import run
from veil.client.build import read_project
from veil.samples import wasm
from veil.trusted.bundle import Bundle, Limits, Manifest
from veil.wiring.embedded import EmbeddedPlatform

LIMIT = Limits().max_input
COLD_START_S = "300"
"""A first invocation compiles the function in the enclave: a Python one takes a while."""


def invoke_at_limit(veil: CliRunner, project: Path, name: str, tmp_path: Path) -> str:
    limit = read_project(project).limits.max_input
    data = tmp_path / "input.txt"
    data.write_bytes(b"x" * limit)
    out = run(veil, "invoke", name, "--data", f"@{data}", "--timeout", COLD_START_S)
    assert out.count("x") >= limit, out[:200]
    data.write_bytes(b"x" * (limit + 1))
    over = run(veil, "invoke", name, "--data", f"@{data}", "--timeout", COLD_START_S, code=1)
    assert "MessageTooLarge" in over
    return out


@pytest.mark.parametrize("lang", ["wasm", "js"])
def test_a_new_function_serves_an_input_at_its_limit(
    veil: CliRunner, tmp_path: Path, lang: str
) -> None:
    project = tmp_path / f"big{lang}"
    run(veil, "new", "--lang", lang, f"big{lang}", "--dir", str(project))
    run(veil, "deploy", str(project))
    assert "hello, xxx" in invoke_at_limit(veil, project, f"big{lang}", tmp_path)


def test_a_new_wasm_function_takes_the_full_default_input_limit(tmp_path: Path) -> None:
    from veil.client.build import scaffold

    scaffold("w", tmp_path / "w", "wasm")
    assert read_project(tmp_path / "w").limits.max_input == LIMIT


def test_a_new_python_function_serves_an_input_at_its_limit(
    veil: CliRunner, python_deploy: PythonDeploy, tmp_path: Path
) -> None:
    out = invoke_at_limit(veil, python_deploy.project, "pyshared", tmp_path)
    assert "hello, xxx" in out


@pytest.mark.parametrize("sample", ["echo", "sha256", "upper"])
def test_every_sample_serves_an_input_at_the_default_limit(
    embedded: EmbeddedPlatform, sample: str
) -> None:
    abi = "wasi-command" if sample == "upper" else "reactor"
    name = f"acme/limit-{sample}"
    data = bytes(range(97, 123)) * (LIMIT // 26) + b"a" * (LIMIT % 26)
    with embedded.client() as client:
        embedded.deploy_bundle(client, Bundle(Manifest(name, "1", abi=abi), wasm(sample)))
        output = client.invoke(name, data, timeout_s=120).output
    expected = {"echo": data, "sha256": hashlib.sha256(data).digest(), "upper": data.upper()}
    assert output == expected[sample]

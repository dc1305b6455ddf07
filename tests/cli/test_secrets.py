"""`veil secret set/ls/rm`: straight to the KMS, rotation visible on the next invoke."""

from __future__ import annotations

import os
import pty
from pathlib import Path
from subprocess import PIPE

import httpx
import pytest
from typer.testing import CliRunner

from tests.cli.runs import run, run_json, veil_process
from veil.cli.main import app
from veil.samples import wasm
from veil.wiring.embedded import EmbeddedPlatform

SAMPLE = Path(wasm.__code__.co_filename).parent / "variable.wat"


def project(tmp_path: Path, name: str, config: str = 'greeting = "hi from config"') -> Path:
    """A reactor function answering the variable its input names ("<none>" if unset)."""
    path = tmp_path / name
    path.mkdir()
    (path / "main.wat").write_text(SAMPLE.read_text())
    (path / "veil.toml").write_text(f'[function]\nname = "{name}"\n\n[config]\n{config}\n')
    return path


def set_secret(veil: CliRunner, fn: str, name: str, value: str) -> str:
    result = veil.invoke(app, ["secret", "set", fn, name], input=value)
    assert result.exit_code == 0, result.output
    return result.output


def reads(veil: CliRunner, fn: str, name: str) -> str:
    return str(run_json(veil, "invoke", fn, "-d", name)["output"])


@pytest.fixture
def deployed(veil: CliRunner, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    name = "sec-" + request.node.name.removeprefix("test_")[:40].replace("_", "-")
    run(veil, "deploy", str(project(tmp_path, name)))
    return name


def test_set_from_stdin_is_read_by_the_next_invoke(veil: CliRunner, deployed: str) -> None:
    assert "version 1" in set_secret(veil, deployed, "api-token", "v1-token")
    assert reads(veil, deployed, "api-token") == "v1-token"


def test_rotation_is_visible_on_the_next_invoke_without_a_redeploy(
    veil: CliRunner, deployed: str
) -> None:
    set_secret(veil, deployed, "api-token", "v1-token")
    assert reads(veil, deployed, "api-token") == "v1-token"  # a warm enclave now holds v1
    version = run_json(veil, "ls")
    assert "version 2" in set_secret(veil, deployed, "api-token", "v2-token")
    assert reads(veil, deployed, "api-token") == "v2-token"
    assert run_json(veil, "ls") == version  # no redeploy


def test_set_from_a_file(veil: CliRunner, deployed: str, tmp_path: Path) -> None:
    (tmp_path / "token.txt").write_text("from-a-file")
    run(veil, "secret", "set", deployed, "api-token", "--file", str(tmp_path / "token.txt"))
    assert reads(veil, deployed, "api-token") == "from-a-file"


def test_the_function_reads_its_config_value(veil: CliRunner, deployed: str) -> None:
    assert reads(veil, deployed, "greeting") == "hi from config"


def test_an_empty_value_is_refused(veil: CliRunner, deployed: str) -> None:
    result = veil.invoke(app, ["secret", "set", deployed, "api-token"], input="")
    assert result.exit_code == 2
    assert "empty" in result.output


def test_a_terminal_without_file_is_refused(embedded: EmbeddedPlatform, veil: CliRunner) -> None:
    leader, follower = pty.openpty()
    try:
        args = ("secret", "set", "x", "api-token")
        proc = veil_process(embedded.data_dir, *args, stdin=follower, stdout=PIPE, stderr=PIPE)
        _out, err = proc.communicate(timeout=60)
    finally:
        os.close(leader)
        os.close(follower)
    assert proc.returncode == 2
    assert "--file" in err


def test_a_name_that_is_not_a_variable_name_is_a_usage_error(
    veil: CliRunner, deployed: str
) -> None:
    result = veil.invoke(app, ["secret", "set", deployed, "API_TOKEN"], input="x")
    assert result.exit_code == 2
    assert "lower case" in result.output


def test_ls_shows_names_and_versions_never_values(veil: CliRunner, deployed: str) -> None:
    set_secret(veil, deployed, "api-token", "hunter2-value")
    set_secret(veil, deployed, "api-token", "hunter3-value")
    text = run(veil, "secret", "ls", deployed)
    listed = run_json(veil, "secret", "ls", deployed)
    assert [(e["name"], e["version"], e["removed"]) for e in listed] == [("api-token", 2, False)]
    assert "api-token" in text and "v2" in text
    assert "hunter" not in text + repr(listed)


def test_rm_takes_the_secret_away_from_the_next_invoke(veil: CliRunner, deployed: str) -> None:
    set_secret(veil, deployed, "api-token", "v1-token")
    assert reads(veil, deployed, "api-token") == "v1-token"
    assert "version 2" in run(veil, "secret", "rm", deployed, "api-token")
    assert reads(veil, deployed, "api-token") == "<none>"
    assert run_json(veil, "secret", "ls", deployed)[0]["removed"] is True


def test_a_secret_for_a_function_not_deployed_is_refused(veil: CliRunner) -> None:
    result = veil.invoke(app, ["secret", "set", "never-deployed", "api-token"], input="x")
    assert result.exit_code == 1
    assert "UnknownFunctionName" in result.output


def test_deploy_refuses_a_secret_that_clashes_with_config(veil: CliRunner, tmp_path: Path) -> None:
    path = project(tmp_path, "sec-clash", config='api-token = "in the clear"')
    out = run(veil, "deploy", str(path), "--secret", "api-token=sealed", code=2)
    assert "api-token" in out and "[config]" in out


def test_the_gateway_refresh_of_a_function_not_deployed_is_404(embedded: EmbeddedPlatform) -> None:
    answer = httpx.post(f"{embedded.gateway_url}/v1/refresh/cli/never-deployed")
    assert answer.status_code == 404
    assert answer.json()["error"] == "FunctionNotDeployed"

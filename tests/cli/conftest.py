"""One embedded platform and one initialised `veil` for every CLI test of the session.

Starting a platform costs seconds, so the CLI tests share one: each test
deploys functions under names of its own (helpers in `tests.cli.runs`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veil.cli.main import app
from veil.wiring.embedded import EmbeddedPlatform


@pytest.fixture(scope="session")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPlatform]:
    with EmbeddedPlatform(tmp_path_factory.mktemp("cli") / "data") as running:
        yield running


@pytest.fixture(scope="session")
def veil(embedded: EmbeddedPlatform) -> CliRunner:
    runner = CliRunner(env={"VEIL_DATA_DIR": str(embedded.data_dir)})
    result = runner.invoke(
        app,
        ["init", "--tenant", "cli", "--gateway", embedded.gateway_url, "--kms", embedded.trust_url],
    )
    assert result.exit_code == 0, result.output
    assert "registered with the KMS" in result.output
    return runner


@dataclass(frozen=True)
class PythonDeploy:
    """A Python project deployed once for the session, and what its first deploy printed."""

    project: Path
    output: str
    digest: str


@pytest.fixture(scope="session")
def python_deploy(veil: CliRunner, tmp_path_factory: pytest.TempPathFactory) -> PythonDeploy:
    """`veil new --lang python` deployed (Python builds take seconds: one for the session)."""
    project = tmp_path_factory.mktemp("python") / "pyshared"
    assert runner_ok(veil, "new", "--lang", "python", "pyshared", "--dir", str(project))
    result = veil.invoke(app, ["deploy", str(project), "--json"])
    assert result.exit_code == 0, result.output
    return PythonDeploy(project, result.output, json.loads(result.stdout)["digest"])


def runner_ok(runner: CliRunner, *args: str) -> bool:
    result = runner.invoke(app, list(args))
    return result.exit_code == 0

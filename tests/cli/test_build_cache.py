"""A Python function whose inputs did not change is not rebuilt; slow steps say what they do.

A Python build takes seconds. The cache key is what the build's output
depends on (`veil.client.build.python.build_key`): the staged sources,
the entrypoint, the tools. So an edit rebuilds, and a file the build never
reads (a bundle `veil build` wrote, bytecode, a limit) does not.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli.conftest import PythonDeploy
from tests.cli.runs import run, run_json
from veil.client.build import read_project, scaffold
from veil.client.build.python import build_key


def test_redeploying_an_unchanged_python_project_reuses_its_last_build(
    veil: CliRunner, python_deploy: PythonDeploy
) -> None:
    out = run(veil, "deploy", str(python_deploy.project))
    assert f"reused the last build of {python_deploy.project}" in out
    again = run_json(veil, "build", str(python_deploy.project))
    assert again["digest"] == python_deploy.digest


def test_the_first_build_says_what_it_is_doing_in_a_plain_log(
    python_deploy: PythonDeploy,
) -> None:
    assert "building pyshared (python) …" in python_deploy.output
    assert "done in" in python_deploy.output


@pytest.fixture
def project(tmp_path: Path) -> Path:
    scaffold("keyed", tmp_path / "keyed", "python")
    return tmp_path / "keyed"


def key(project: Path) -> bytes:
    return build_key(read_project(project))


def test_an_edit_to_a_source_or_a_vendored_file_changes_the_key(project: Path) -> None:
    before = key(project)
    (project / "helpers.py").write_text("X = 1\n")
    after_source = key(project)
    (project / "vendor").mkdir()
    (project / "vendor" / "dep.py").write_text("Y = 2\n")
    assert len({before, after_source, key(project)}) == 3


def test_the_entrypoint_is_part_of_the_key(project: Path) -> None:
    (project / "app.py").write_text((project / "app.py").read_text() + "other = handle\n")
    settings = read_project(project)
    moved = dataclasses.replace(settings, entrypoint="app:other")
    assert build_key(settings) != build_key(moved)


def test_files_the_build_never_reads_leave_the_key_alone(project: Path) -> None:
    before = key(project)
    (project / "cli-keyed.bundle").write_bytes(b"a bundle veil build wrote")
    (project / "__pycache__").mkdir()
    (project / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"bytecode")
    toml = project / "veil.toml"
    toml.write_text(toml.read_text().replace("timeout_ms = 2000", "timeout_ms = 3000"))
    assert key(project) == before


def test_the_same_sources_elsewhere_have_the_same_key(project: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy" / "keyed"
    shutil.copytree(project, copy)
    assert key(copy) == key(project)

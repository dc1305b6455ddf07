"""`veil versions`, `veil invoke NAME@N`, `veil rollback`, `veil rm`, as a tenant uses them.

Each test deploys a scaffolded Wasm function of its own name several times,
each version answering with its own number ("v3: hi world"), so which code
ran is visible in the output. The platform retains the default 5 versions.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli.runs import run, run_json
from veil.client.sdk import Client
from veil.wiring.embedded import EmbeddedPlatform

names = itertools.count()
Deploy = Callable[[int], str]


def answer(version: int) -> str:
    return f"v{version}: hi world"


@pytest.fixture
def versioned(veil: CliRunner, tmp_path: Path) -> tuple[str, Deploy]:
    """A fresh function name, and a way to deploy version N of it (answering `answer(N)`)."""
    name = f"vers{next(names)}"
    project = tmp_path / name
    run(veil, "new", name, "--dir", str(project))
    source = project / "main.wat"
    scaffold = source.read_text()

    def deploy(version: int) -> str:
        source.write_text(scaffold.replace('"hello, "', f'"v{version}: hi "'))
        return str(run_json(veil, "deploy", str(project))["digest"])

    return name, deploy


def invoke(veil: CliRunner, name: str, code: int = 0) -> str:
    return run(veil, "invoke", name, "--data", "world", code=code)


def test_versions_lists_each_version_with_its_digest_newest_first_and_the_current_marked(
    veil: CliRunner, versioned: tuple[str, Deploy]
) -> None:
    name, deploy = versioned
    digests = [deploy(n) for n in (1, 2, 3)]
    lines = run(veil, "versions", name).splitlines()
    assert [line.split()[0] for line in lines] == ["v3", "v2", "v1"]
    assert lines[0].endswith("current") and not lines[1].endswith("current")
    assert all(d[:16] in line for d, line in zip(reversed(digests), lines, strict=True))
    assert "UTC" in lines[2]


def test_versions_json_names_the_current_version(
    veil: CliRunner, versioned: tuple[str, Deploy]
) -> None:
    name, deploy = versioned
    digests = [deploy(n) for n in (1, 2)]
    listed = run_json(veil, "versions", name)
    assert listed["name"] == f"cli/{name}" and listed["current"] == 2
    assert [(v["version"], v["digest"], v["current"]) for v in listed["versions"]] == [
        (1, digests[0], False),
        (2, digests[1], True),
    ]


def test_a_pinned_version_runs_its_own_code_while_the_latest_is_newer(
    veil: CliRunner, versioned: tuple[str, Deploy]
) -> None:
    name, deploy = versioned
    for n in (1, 2, 3, 4):
        deploy(n)
    assert answer(3) in invoke(veil, f"{name}@3")
    assert answer(4) in invoke(veil, name)
    assert answer(1) in invoke(veil, f"cli/{name}@1")


def test_a_rollback_publishes_the_old_code_as_a_new_higher_version(
    veil: CliRunner, versioned: tuple[str, Deploy]
) -> None:
    name, deploy = versioned
    digests = [deploy(n) for n in (1, 2, 3, 4)]
    assert "v5 runs v2's code" in run(veil, "rollback", name, "2")
    assert answer(2) in invoke(veil, name)
    listed = run_json(veil, "versions", name)
    assert (listed["current"], listed["versions"][-1]["digest"]) == (5, digests[1])
    assert answer(4) in invoke(veil, f"{name}@4")  # the versions before stay pinned


def test_a_rollback_to_the_current_version_or_a_newer_one_is_refused(
    veil: CliRunner, versioned: tuple[str, Deploy]
) -> None:
    name, deploy = versioned
    deploy(1)
    deploy(2)
    assert "not older than the current v2" in run(veil, "rollback", name, "2", code=1)
    assert run_json(veil, "versions", name)["current"] == 2


def test_a_rollback_without_the_old_bundle_on_this_machine_is_refused_clearly(
    veil: CliRunner, embedded: EmbeddedPlatform, versioned: tuple[str, Deploy]
) -> None:
    name, deploy = versioned
    deploy(1)
    deploy(2)
    (embedded.data_dir / "deployed" / "cli" / name / "v1.bundle").unlink()
    output = run(veil, "rollback", name, "1", code=1)
    assert f"no bundle of cli/{name} v1" in output and "kept: v2" in output
    assert run_json(veil, "versions", name)["current"] == 2


def test_a_rollback_whose_kept_bundle_is_not_the_signed_code_is_refused(
    veil: CliRunner, embedded: EmbeddedPlatform, versioned: tuple[str, Deploy]
) -> None:
    name, deploy = versioned
    deploy(1)
    deploy(2)
    kept = embedded.data_dir / "deployed" / "cli" / name
    (kept / "v1.bundle").write_bytes((kept / "v2.bundle").read_bytes())
    assert "not the code the KMS signed" in run(veil, "rollback", name, "1", code=1)


def test_after_rm_an_invoke_is_refused_as_no_such_function(
    veil: CliRunner, embedded: EmbeddedPlatform, versioned: tuple[str, Deploy]
) -> None:
    name, deploy = versioned
    deploy(1)
    deploy(2)
    assert answer(2) in invoke(veil, name)  # an enclave holds it warm
    assert f"removed cli/{name}" in run(veil, "rm", name)
    assert "no such function" in invoke(veil, name, code=1)
    assert "no such function" in invoke(veil, f"{name}@1", code=1)
    assert "no such function" in run(veil, "versions", name, code=1)
    assert not (embedded.data_dir / "deployed" / "cli" / name).exists()
    assert f"cli/{name}" not in run(veil, "ls")


def test_a_function_deployed_again_after_rm_continues_its_version_numbers(
    veil: CliRunner, versioned: tuple[str, Deploy]
) -> None:
    name, deploy = versioned
    deploy(1)
    deploy(2)
    run(veil, "rm", name)
    deploy(3)
    assert run_json(veil, "versions", name)["current"] == 3
    assert answer(3) in invoke(veil, name)


def test_rm_of_a_function_never_deployed_is_no_such_function(veil: CliRunner) -> None:
    assert "no such function" in run(veil, "rm", "never-deployed", code=1)


def test_retention_prunes_versions_older_than_the_last_five(
    veil: CliRunner, versioned: tuple[str, Deploy]
) -> None:
    name, deploy = versioned
    for n in range(1, 7):
        deploy(n)
    listed = run_json(veil, "versions", name)
    assert [v["version"] for v in listed["versions"]] == [2, 3, 4, 5, 6]
    assert "no such function" in invoke(veil, f"{name}@1", code=1)
    assert answer(2) in invoke(veil, f"{name}@2")


def test_rm_answered_by_a_gateway_that_did_not_relay_it_is_caught(
    veil: CliRunner, versioned: tuple[str, Deploy], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hostile gateway that drops the removal and answers "removed": the CLI asks the KMS."""
    name, deploy = versioned
    deploy(1)
    monkeypatch.setattr(Client, "remove", lambda *_args, **_kwargs: None)
    output = run(veil, "rm", name, code=1)
    assert "RemovalNotApplied" in output and "the KMS still has it" in output
    assert answer(1) in invoke(veil, name)

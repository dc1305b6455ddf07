"""A function name belongs to the project that deployed it; old bundles do not pile up.

The host's registry knows only names, so the CLI remembers which project
deployed each one (`<data-dir>/deployed.json`) and refuses a deploy from
another project unless `--replace` says to. Each deploy then prunes the
bundles no function needs (each keeps its current and previous one).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from tests.cli.runs import run
from veil.attestation.policy import Policy
from veil.client.keys import load_key
from veil.samples import wasm
from veil.trusted.bundle import Bundle, Manifest
from veil.wiring.embedded import EmbeddedPlatform


def project(veil: CliRunner, where: Path, name: str = "common") -> Path:
    run(veil, "new", name, "--dir", str(where))
    return where


def test_a_second_project_under_the_same_name_is_refused_naming_the_owner(
    veil: CliRunner, tmp_path: Path
) -> None:
    first = project(veil, tmp_path / "team-a" / "common")
    second = project(veil, tmp_path / "team-b" / "common")
    run(veil, "deploy", str(first))
    out = run(veil, "deploy", str(second), code=1)
    assert f"cli/common is deployed from {first.resolve()}, not from {second.resolve()}" in out
    assert "--replace" in out


def test_replace_takes_the_name_over_and_the_first_project_is_then_refused(
    veil: CliRunner, tmp_path: Path
) -> None:
    first = project(veil, tmp_path / "a" / "taken", "taken")
    second = project(veil, tmp_path / "b" / "taken", "taken")
    run(veil, "deploy", str(first))
    assert "deployed cli/taken v2" in run(veil, "deploy", str(second), "--replace")
    out = run(veil, "deploy", str(first), code=1)
    assert f"is deployed from {second.resolve()}" in out


def test_redeploying_the_same_project_or_its_bundle_file_needs_no_flag(
    veil: CliRunner, tmp_path: Path
) -> None:
    mine = project(veil, tmp_path / "mine", "mine")
    run(veil, "deploy", str(mine))
    run(veil, "build", str(mine))
    assert "deployed cli/mine v2" in run(veil, "deploy", str(mine / "cli-mine.bundle"))
    assert "deployed cli/mine v3" in run(veil, "deploy", str(mine / "veil.toml"))


def test_a_name_deployed_by_no_project_this_machine_knows_is_refused(
    veil: CliRunner, embedded: EmbeddedPlatform, tmp_path: Path
) -> None:
    with embedded.client() as client:  # the same tenant, deploying with the SDK
        client.deploy(
            Bundle(Manifest("cli/elsewhere", "1"), wasm("echo")),
            tenant="cli",
            key=load_key(embedded.data_dir / "tenant.key"),
            policy=Policy.development(),
        )
    out = run(veil, "deploy", str(project(veil, tmp_path / "elsewhere", "elsewhere")), code=1)
    assert "cli/elsewhere is already deployed, but not from" in out


def test_old_bundles_are_pruned_keeping_the_current_and_the_previous(
    veil: CliRunner, embedded: EmbeddedPlatform, tmp_path: Path
) -> None:
    churn = project(veil, tmp_path / "churn", "churn")
    before = bundles(embedded)
    main = churn / "main.wat"
    source = main.read_text()
    for n in range(4):
        main.write_text(source.replace("hello, ", f"hell{n}, "))
        run(veil, "deploy", str(churn))
    assert bundles(embedded) == before + 2


def bundles(embedded: EmbeddedPlatform) -> int:
    path = embedded.data_dir / "registry.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM bundles").fetchone()
    return int(count)

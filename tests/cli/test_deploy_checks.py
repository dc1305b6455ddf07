"""`veil new` and `veil deploy` refuse what cannot work, before anything is created or sent.

A file that is not a bundle, a module without the exports its ABI needs,
a language or policy Veil does not have: each is refused with a message
that names the problem and the choices, and leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.cli.runs import run, run_json

NO_ALLOC = """(module (memory (export "memory") 1)
  (func (export "veil_invoke") (param i32 i32) (result i64) i64.const 0))"""
NO_START = '(module (memory (export "memory") 1))'


def deployed(veil: CliRunner) -> set[str]:
    return {f["name"] for f in run_json(veil, "ls")}


def test_a_file_that_is_not_a_bundle_is_refused_saying_what_to_deploy(
    veil: CliRunner, tmp_path: Path
) -> None:
    junk = tmp_path / "notes.bundle"
    junk.write_text("my shopping list\n")
    out = run(veil, "deploy", str(junk), code=1)
    assert f"{junk} is not a Veil bundle" in out and "project directory" in out
    assert "MalformedMessage" not in out


def test_a_module_without_the_reactor_exports_is_refused_at_deploy(
    veil: CliRunner, tmp_path: Path
) -> None:
    project = tmp_path / "noalloc"
    run(veil, "new", "noalloc", "--dir", str(project))
    (project / "main.wat").write_text(NO_ALLOC)
    out = run(veil, "deploy", str(project), code=1)
    assert "does not load: module must export func 'veil_alloc'" in out
    assert "cli/noalloc" not in deployed(veil)


def test_a_wasi_command_without_start_is_refused_at_build(veil: CliRunner, tmp_path: Path) -> None:
    project = tmp_path / "nostart"
    run(veil, "new", "nostart", "--dir", str(project))
    (project / "main.wat").write_text(NO_START)
    toml = project / "veil.toml"
    toml.write_text(toml.read_text().replace('abi = "reactor"', 'abi = "wasi-command"'))
    out = run(veil, "build", str(project), code=1)
    assert "a WASI command must export _start" in out


def test_a_bundle_file_is_checked_like_a_build(veil: CliRunner, tmp_path: Path) -> None:
    project = tmp_path / "checked"
    run(veil, "new", "checked", "--dir", str(project))
    bundle = Path(run_json(veil, "build", str(project))["bundle"])
    (project / "main.wat").write_text(NO_ALLOC)
    broken = tmp_path / "broken.bundle"
    run(veil, "build", str(project), "-o", str(broken), code=1)  # the build refuses it too
    assert bundle.exists() and not broken.exists()


def test_an_unsupported_language_leaves_nothing_behind(veil: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "rusty"
    out = run(veil, "new", "--lang", "rust", "rusty", "--dir", str(target), code=1)
    assert "unknown language 'rust'; known:" in out and "python" in out
    assert not target.exists()


def test_an_unknown_policy_is_refused_naming_the_choices(veil: CliRunner, tmp_path: Path) -> None:
    project = tmp_path / "polite"
    run(veil, "new", "polite", "--dir", str(project))
    out = run(veil, "deploy", str(project), "--policy", "prod", code=2)
    assert "'prod' is not a policy" in out and "dev, hardware" in out
    assert "cli/polite" not in deployed(veil)

"""The `veil` commands against a running embedded platform, as a tenant uses them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.cli.runs import run, run_json
from veil.cli.main import app
from veil.client.build import hermetic
from veil.kms.store import KmsStore, load_or_create_master_key
from veil.registration import SEAL_SUITE, SealedPart, SealKey
from veil.trusted.crypto import hazmat
from veil.trusted.crypto.signing import SigningKey, VerifyKey
from veil.wiring.embedded import EmbeddedPlatform


def test_new_deploy_invoke_round_trip(veil: CliRunner, tmp_path: Path) -> None:
    project = tmp_path / "hello"
    run(veil, "new", "hello", "--dir", str(project))
    assert (project / "veil.toml").exists()
    assert "deployed cli/hello v1" in run(veil, "deploy", str(project))
    out = run(veil, "invoke", "hello", "--data", "world")
    assert "hello, world" in out
    assert "verified" in out and "TEE sim" in out


def test_invoke_json_output_for_scripts(veil: CliRunner, tmp_path: Path) -> None:
    project = tmp_path / "jsonfn"
    run(veil, "new", "jsonfn", "--dir", str(project))
    run(veil, "deploy", str(project))
    data = tmp_path / "input.txt"
    data.write_text("from a file")
    payload = run_json(veil, "invoke", "cli/jsonfn", "--data", f"@{data}")
    assert payload["ok"] is True and payload["output"] == "hello, from a file"
    assert payload["attestation"]["tee"] == "sim"
    assert len(payload["receipt"]["bundle"]) == 64


def test_build_writes_a_bundle_that_deploys(veil: CliRunner, tmp_path: Path) -> None:
    project = tmp_path / "built"
    run(veil, "new", "built", "--dir", str(project))
    info = run_json(veil, "build", str(project))
    assert Path(info["bundle"]).exists()
    assert "deployed cli/built" in run(veil, "deploy", info["bundle"])


def test_build_says_when_a_python_build_cannot_be_reproduced_here(
    veil: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hermetic, "unsupported_reason", lambda: "ptrace is not permitted")
    project = tmp_path / "pyfn"
    run(veil, "new", "--lang", "python", "pyfn", "--dir", str(project))
    output = run(veil, "build", str(project))
    assert "⚠ this build is not reproducible here (ptrace is not permitted)" in output
    assert "digest" in output


def test_ls_enclaves_and_logs(veil: CliRunner, tmp_path: Path) -> None:
    project = tmp_path / "listed"
    run(veil, "new", "listed", "--dir", str(project))
    run(veil, "deploy", str(project))
    run(veil, "invoke", "listed", "-d", "x")
    names = [f["name"] for f in run_json(veil, "ls")]
    assert "cli/listed" in names
    enclaves = run_json(veil, "enclaves")
    assert any("cli/listed" in e["functions"] for e in enclaves)
    assert all(e["tee"] == "sim" and e["attestation"] for e in enclaves)
    assert "cold_start" in run(veil, "logs")


@contextlib.contextmanager
def edited_config(embedded: EmbeddedPlatform, **changes: object) -> Iterator[Path]:
    """client.json with `changes` (None deletes a field), restored afterwards."""
    path = embedded.data_dir / "client.json"
    original = path.read_text()
    config = json.loads(original)
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    path.write_text(json.dumps(config))
    try:
        yield path
    finally:
        path.write_text(original)


def test_the_client_config_pins_the_kms_seal_key_signed_by_the_kms_key(
    veil: CliRunner, embedded: EmbeddedPlatform
) -> None:
    run(veil, "ls")
    config = json.loads((embedded.data_dir / "client.json").read_text())
    published = httpx.get(f"{embedded.trust_url}/v1/keys").json()
    assert config["kms_seal_key"] == published["kms_seal_key"]
    SealKey.from_json(config["kms_seal_key"], VerifyKey(bytes.fromhex(config["kms_key"])))


def test_a_config_pinned_before_seal_keys_pins_the_seal_key_on_its_next_use(
    veil: CliRunner, embedded: EmbeddedPlatform, tmp_path: Path
) -> None:
    run(veil, "ls")
    with edited_config(embedded, kms_seal_key=None) as path:
        project = tmp_path / "later"
        run(veil, "new", "later", "--dir", str(project))
        assert "pinned the KMS seal key" in run(veil, "deploy", str(project))
        assert json.loads(path.read_text())["kms_seal_key"] is not None


def test_a_seal_key_the_pinned_kms_key_did_not_sign_is_refused(
    veil: CliRunner, embedded: EmbeddedPlatform, tmp_path: Path
) -> None:
    """A seal key swapped in the config (or by whoever answered the KMS URL) would let its
    owner open every code key and secret the tenant deploys: no deploy with it."""
    run(veil, "ls")
    impostor = SealKey.signed(hazmat.HpkePrivateKey.generate(SEAL_SUITE), SigningKey.generate())
    project = tmp_path / "guarded"
    run(veil, "new", "guarded", "--dir", str(project))
    with edited_config(embedded, kms_seal_key=impostor.to_json()):
        out = run(veil, "deploy", str(project), code=1)
    assert "BadSignature" in out


def test_deploy_seals_secrets_to_the_kms(
    veil: CliRunner, embedded: EmbeddedPlatform, tmp_path: Path
) -> None:
    project = tmp_path / "withsecrets"
    run(veil, "new", "withsecrets", "--dir", str(project))
    (tmp_path / "key.pem").write_bytes(b"-----a key from a file-----")
    run(
        veil,
        "deploy",
        str(project),
        *("--secret", "token=s3cr3t-value", "--secret", f"pem=@{tmp_path / 'key.pem'}"),
    )
    store = KmsStore(
        embedded.data_dir / "kms.sqlite3",
        load_or_create_master_key(embedded.data_dir / "kms-master.key"),
    )
    row = store.function("cli/withsecrets")
    store.close()
    assert row is not None
    assert SealedPart.from_bytes(row.secrets).secrets == {
        "token": b"s3cr3t-value",
        "pem": b"-----a key from a file-----",
    }
    assert "NAME=VALUE" in run(veil, "deploy", str(project), "--secret", "novalue", code=2)


def test_unknown_function_is_a_clear_error(veil: CliRunner) -> None:
    out = run(veil, "invoke", "nope", "-d", "x", code=1)
    assert "nope" in out


def test_deploy_of_a_directory_without_a_project_says_how_to_make_one(
    veil: CliRunner, tmp_path: Path
) -> None:
    out = run(veil, "deploy", str(tmp_path), code=1)
    assert "veil new" in out


def test_commands_before_init_say_to_run_init(tmp_path: Path) -> None:
    out = CliRunner(env={"VEIL_DATA_DIR": str(tmp_path)}).invoke(app, ["ls"]).output
    assert "veil init" in out


def test_no_platform_running_says_to_start_one(tmp_path: Path) -> None:
    runner = CliRunner(env={"VEIL_DATA_DIR": str(tmp_path)})
    runner.invoke(app, ["init", "--gateway", "http://127.0.0.1:9", "--kms", "http://127.0.0.1:9"])
    out = runner.invoke(app, ["ls"]).output
    assert "veil up" in out


def test_redeploy_is_live_for_the_next_invoke_without_a_restart(
    veil: CliRunner, tmp_path: Path
) -> None:
    """Issue 12: a warm enclave kept the old bundle, so the next invoke was `ReceiptInvalid`."""
    project = tmp_path / "edited"
    run(veil, "new", "edited", "--dir", str(project))
    run(veil, "deploy", str(project))
    assert "hello, world" in run(veil, "invoke", "edited", "-d", "world")
    source = next(project.glob("*.wat"))
    source.write_text(source.read_text().replace('"hello, "', '"howdy, "'))
    assert "deployed cli/edited v2" in run(veil, "deploy", str(project))
    out = run(veil, "invoke", "edited", "-d", "world")
    assert "howdy, world" in out and "hello" not in out

"""The services a process serves: the KMS+verifier and the gateway, from one data directory."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from veil.kms.remote import RemoteTrust
from veil.wiring.processes import free_port, start_service, stop_process, wait_healthy
from veil.wiring.services import admin_token, build_trust


def test_admin_token_is_created_once_and_private(tmp_path: Path) -> None:
    token = admin_token(tmp_path)
    assert admin_token(tmp_path) == token
    assert stat.S_IMODE((tmp_path / "kms-admin.token").stat().st_mode) == 0o600


def test_trust_keeps_its_keys_across_restarts(tmp_path: Path) -> None:
    kms, verifier = build_trust(tmp_path)
    again, verifier_again = build_trust(tmp_path)
    assert again.public_key == kms.public_key
    assert verifier_again.key.public == verifier.key.public


def test_trust_service_serves_the_keys_of_its_data_dir(tmp_path: Path) -> None:
    kms, verifier = build_trust(tmp_path)
    port = free_port()
    proc = start_service("trust", tmp_path, "127.0.0.1", port)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process=proc)
        with RemoteTrust(f"http://127.0.0.1:{port}") as remote:
            assert remote.public_key == kms.public_key
            assert remote.verifier_keys() == [verifier.key.public]
    finally:
        stop_process(proc)


def test_tenant_registration_needs_the_admin_token(tmp_path: Path) -> None:
    port = free_port()
    proc = start_service("trust", tmp_path, "127.0.0.1", port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process=proc)
        body = {"tenant": "acme", "key": "00" * 32}
        assert httpx.post(f"{url}/v1/tenants", json=body).status_code == 401
        with_token = {"Authorization": f"Bearer {admin_token(tmp_path)}"}
        assert httpx.post(f"{url}/v1/tenants", json=body, headers=with_token).status_code == 201
    finally:
        stop_process(proc)


def test_the_service_entry_point_runs_its_module_once() -> None:
    """`python -m veil.wiring.services` must not find itself imported by its package first."""
    result = subprocess.run(
        [sys.executable, "-W", "error", "-m", "veil.wiring.services", "--help"],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert b"trust,gateway" in result.stdout


def test_the_package_re_exports_every_public_name() -> None:
    import veil.wiring

    for name in veil.wiring.__all__:
        assert getattr(veil.wiring, name) is not None
    with pytest.raises(AttributeError):
        _ = veil.wiring.NoSuchThing  # type: ignore[attr-defined]

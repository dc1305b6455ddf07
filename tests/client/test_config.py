"""`Client.from_config`: the SDK trusts what `veil init` and the CLI wrote, and nothing else.

A config on disk is the tenant's own file, but the seal key in it is
checked against the pinned KMS key on every load, so a tampered one is
refused rather than deployed to. (The README's snippet runs it against a
real platform: tests/docs/test_snippets.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from veil.client.config import ClientConfig, NotInitialised, TrustNotPinned
from veil.client.sdk import AsyncClient, Client
from veil.registration import SEAL_SUITE, SealKey
from veil.trusted.crypto import hazmat
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.errors import BadSignature

GATEWAY = "http://127.0.0.1:17070"


def pinned_config(
    data_dir: Path, kms: SigningKey, *, seal_signer: SigningKey | None = None
) -> None:
    """What `veil init` and a first CLI command leave: gateway URL and pinned keys."""
    seal = SealKey.signed(hazmat.HpkePrivateKey.generate(SEAL_SUITE), seal_signer or kms)
    ClientConfig(
        tenant="acme",
        gateway=GATEWAY,
        kms_key=kms.public.raw.hex(),
        kms_seal_key=seal.to_json(),
        verifier_keys=[SigningKey.generate().public.raw.hex()],
    ).save(data_dir)


def test_it_trusts_exactly_the_pinned_keys_at_the_configured_gateway(tmp_path: Path) -> None:
    kms = SigningKey.generate()
    pinned_config(tmp_path, kms)
    with Client.from_config(tmp_path) as client:
        assert client.url == GATEWAY
        assert client.trust.kms_key == kms.public
        assert client.trust.kms_seal_key is not None
        assert client.trust.allow_sim  # as `veil init` wrote it
        assert len(client.trust.verifier_keys) == 1


def test_the_data_dir_defaults_to_veil_data_dir_as_for_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pinned_config(tmp_path, SigningKey.generate())
    monkeypatch.setenv("VEIL_DATA_DIR", str(tmp_path))
    with Client.from_config() as client:
        assert client.url == GATEWAY


def test_the_async_client_loads_the_same_config(tmp_path: Path) -> None:
    kms = SigningKey.generate()
    pinned_config(tmp_path, kms)
    client = AsyncClient.from_config(tmp_path)
    assert isinstance(client, AsyncClient) and client.trust.kms_key == kms.public


def test_a_data_dir_without_veil_init_is_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(NotInitialised, match="veil init"):
        Client.from_config(tmp_path / "nothing-here")


def test_a_config_not_pinned_yet_says_how_to_pin_it(tmp_path: Path) -> None:
    ClientConfig(tenant="acme").save(tmp_path)  # `veil init` before any other command
    with pytest.raises(TrustNotPinned, match="veil ls"):
        Client.from_config(tmp_path)


def test_a_seal_key_the_pinned_kms_did_not_sign_is_refused(tmp_path: Path) -> None:
    pinned_config(tmp_path, SigningKey.generate(), seal_signer=SigningKey.generate())
    with pytest.raises(BadSignature):
        Client.from_config(tmp_path)

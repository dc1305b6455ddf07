"""A function reads its secrets and config through `veil.variable`; rotation needs no redeploy."""

from __future__ import annotations

import time

import pytest

from veil.client.invoke import open_response, seal
from veil.samples import wasm
from veil.secret_request import SecretWrite
from veil.trusted.bundle import Bundle, Manifest
from veil.trusted.enclave import Enclave
from veil.wiring.direct import Deployed, DirectPlatform

CONFIG = {"greeting": "hello from config", "shadowed": "config loses"}


def reads(platform: DirectPlatform, enclave: Enclave, deployed: Deployed, name: str) -> bytes:
    """What the function answers for variable `name` ("<none>" if it has none)."""
    request = seal(deployed.record, name.encode(), enclave=enclave.key_id)
    return open_response(request, enclave.handle(request.envelope), platform.trust).output


def set_secret(platform: DirectPlatform, name: str, value: bytes | None) -> None:
    write = SecretWrite("acme", "acme/vars", name, value, time.time_ns() // 1000)
    platform.kms.secrets.write(write.sign(platform.tenant_key, platform.kms.seal_key))


@pytest.fixture
def deployed(platform: DirectPlatform) -> Deployed:
    bundle = Bundle(Manifest("acme/vars", "1", config=CONFIG), wasm("variable"))
    return platform.deploy(bundle, secrets={"api-token": b"v1-token", "shadowed": b"secret wins"})


@pytest.fixture
def loaded(platform: DirectPlatform, deployed: Deployed) -> Enclave:
    enclave = platform.start_enclave()
    platform.provision(enclave, deployed)
    return enclave


def test_a_function_reads_a_secret_and_a_config_value(
    platform: DirectPlatform, loaded: Enclave, deployed: Deployed
) -> None:
    assert reads(platform, loaded, deployed, "api-token") == b"v1-token"
    assert reads(platform, loaded, deployed, "greeting") == b"hello from config"


def test_a_name_that_is_neither_reads_as_absent(
    platform: DirectPlatform, loaded: Enclave, deployed: Deployed
) -> None:
    assert reads(platform, loaded, deployed, "no-such-thing") == b"<none>"


def test_a_secret_shadows_a_config_value_of_the_same_name(
    platform: DirectPlatform, loaded: Enclave, deployed: Deployed
) -> None:
    assert reads(platform, loaded, deployed, "shadowed") == b"secret wins"


def test_a_rotated_secret_is_read_after_the_next_grant_without_a_redeploy(
    platform: DirectPlatform, loaded: Enclave, deployed: Deployed
) -> None:
    set_secret(platform, "api-token", b"v2-token")
    assert reads(platform, loaded, deployed, "api-token") == b"v1-token"  # until a new grant
    platform.provision(loaded, deployed)  # the renewal `veil secret set` asks the host for
    assert reads(platform, loaded, deployed, "api-token") == b"v2-token"
    assert loaded.functions()["acme/vars"].version == deployed.record.version


def test_a_removed_secret_reads_as_absent_after_the_next_grant(
    platform: DirectPlatform, loaded: Enclave, deployed: Deployed
) -> None:
    set_secret(platform, "api-token", None)
    platform.provision(loaded, deployed)
    assert reads(platform, loaded, deployed, "api-token") == b"<none>"


def test_an_older_grant_replayed_by_the_host_does_not_roll_a_secret_back(
    platform: DirectPlatform, deployed: Deployed
) -> None:
    enclave = platform.start_enclave()
    record = deployed.record
    old_grant = platform.kms.release(enclave.key_request(record.name, record.digest))
    time.sleep(0.002)  # grants expire a TTL after issue, in ms: a later one expires later
    set_secret(platform, "api-token", b"v2-token")
    new_grant = platform.kms.release(enclave.key_request(record.name, record.digest))
    enclave.install(deployed.sealed_bundle, new_grant)
    enclave.install(deployed.sealed_bundle, old_grant)
    assert reads(platform, enclave, deployed, "api-token") == b"v2-token"

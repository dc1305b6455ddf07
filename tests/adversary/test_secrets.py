"""Rotated secrets against a hostile host: it cannot roll a secret back, nor read one.

Played by `HostileHost`. `veil secret set` goes from the tenant to the KMS,
never through the gateway; the host may still own the network between them,
so here the tenant's writes travel through `trust_tap` (recorded, replayable).
The function answers the variable its input names, sealed to the client.

| attack | typed error expected | keeps serving | no plaintext seen |
|---|---|---|---|
| old `secret set` replayed after a newer one | `StaleSecretWrite` | yes, the newer value | yes |
| older grant (old secrets) relayed after a newer one | none: newer ones kept | yes, newer | yes |
| renewal after a `secret set` never relayed | none: delayed to grant expiry | yes, old | yes |
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.adversary.host import HostileHost, replace
from veil.client.sdk import Client
from veil.kms.errors import StaleSecretWrite
from veil.samples import wasm
from veil.secret_request import SecretWrite
from veil.trusted.bundle import Bundle, Manifest
from veil.wiring.embedded import EmbeddedPlatform

OLD = b"old-secret-7d2f0a-rotated-away"
NEW = b"new-secret-91c4be-now-in-force"
NAME = "acme/rotating"


@pytest.fixture
def host(trust: EmbeddedPlatform) -> Iterator[HostileHost]:
    with HostileHost(trust) as hostile:
        yield hostile


@pytest.fixture
def client(host: HostileHost, trust: EmbeddedPlatform) -> Iterator[Client]:
    with host.client() as client:
        bundle = Bundle(Manifest(NAME, "1"), wasm("variable"))
        trust.deploy_bundle(client, bundle)
        yield client


def set_secret(host: HostileHost, value: bytes) -> bytes:
    """The tenant's signed write, carried over the host's network (`trust_tap`) to the KMS."""
    platform = host.platform
    write = SecretWrite(platform.tenant, NAME, "api-token", value, time.time_ns() // 1000)
    signed = write.sign(platform.tenant_key, host.trust_tap.inner.seal_key)
    host.trust_tap.write_secret(signed)
    return signed


def reads(client: Client) -> bytes:
    return client.invoke(NAME, b"api-token").output


def test_an_old_secret_set_replayed_after_a_newer_one_is_refused(
    host: HostileHost, client: Client
) -> None:
    old = set_secret(host, OLD)
    set_secret(host, NEW)
    with pytest.raises(StaleSecretWrite):
        host.trust_tap.inner.write_secret(old)
    client.refresh(NAME)
    assert reads(client) == NEW
    assert not host.saw(OLD) and not host.saw(NEW)


def test_an_older_grant_relayed_after_a_newer_one_does_not_roll_the_secret_back(
    host: HostileHost, client: Client
) -> None:
    set_secret(host, OLD)
    assert reads(client) == OLD  # a cold start: the enclave holds a grant with OLD
    old_grant = host.trust_tap.sent("release", reply=True)[-1]
    time.sleep(0.002)  # a later grant expires later (the KMS counts in ms)
    set_secret(host, NEW)
    client.refresh(NAME)
    assert reads(client) == NEW
    host.trust_tap.rewrite("release", replace(old_grant), reply=True)
    assert client.refresh(NAME) == 1  # the host relayed the old grant, and the enclave took it
    assert reads(client) == NEW
    assert not host.saw(OLD) and not host.saw(NEW)


def test_a_host_that_skips_the_renewal_only_delays_the_new_value(
    host: HostileHost, client: Client
) -> None:
    set_secret(host, OLD)
    assert reads(client) == OLD
    set_secret(host, NEW)
    host.trust_tap.drop("release", times=None)  # the refresh gets no grant
    client.refresh(NAME)
    assert reads(client) == OLD  # the residual: until the grant (300 s) expires
    host.trust_tap.clear()
    client.refresh(NAME)
    assert reads(client) == NEW

"""The KMS's side of pinned versions, retention and removal.

A retained version N of `acme/echo` is a function of its own, `acme/echo@N`:
its own record (named so, version N, v N's digest and key, fresh validity)
and its own grants. `retain` versions are kept; older ones lose their keys.
A removal, signed by the tenant, deletes every version and leaves a
tombstone, so neither it nor an earlier registration can be replayed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from veil.attestation.policy import Policy
from veil.kms.broker import KeyBroker
from veil.kms.errors import (
    NamespaceViolation,
    StaleRegistration,
    UnknownFunctionName,
    VersionNotRetained,
)
from veil.kms.store import KmsStore, load_or_create_master_key
from veil.registration import Registration, Removal, VersionList
from veil.samples import wasm
from veil.trusted.bundle import Bundle, Manifest
from veil.trusted.crypto.signing import BadSignature, SigningKey
from veil.trusted.wire.records import FunctionRecord

TENANT_KEY = SigningKey.generate()


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def broker(path: Path, clock: Clock, retain: int = 5) -> KeyBroker:
    store = KmsStore(path / "kms.sqlite3", load_or_create_master_key(path / "kms-master.key"))
    kms = KeyBroker(store, [], clock=clock, retain=retain)
    kms.register_tenant("acme", TENANT_KEY.public)
    return kms


@pytest.fixture
def kms(tmp_path: Path, clock: Clock) -> KeyBroker:
    return broker(tmp_path, clock, retain=2)


def version(n: int) -> Bundle:
    """Distinct code for each version (another manifest version, so another digest)."""
    return Bundle(Manifest("acme/echo", str(n)), wasm("echo"))


def registration(kms: KeyBroker, bundle: Bundle, clock: Clock, name: str = "acme/echo") -> bytes:
    issued = int(clock.now * 1_000_000)
    clock.now += 0.001  # every registration strictly newer than the one before
    reg = Registration("acme", name, bundle.digest, Policy.development(), issued_us=issued)
    return reg.sign(TENANT_KEY, kms.seal_key)


def deploy(kms: KeyBroker, bundle: Bundle, clock: Clock) -> FunctionRecord:
    return FunctionRecord.verify(
        kms.register_function(registration(kms, bundle, clock)), kms.public_key
    )


def removal(clock: Clock, name: str = "acme/echo", key: SigningKey = TENANT_KEY) -> bytes:
    issued = int(clock.now * 1_000_000)
    clock.now += 0.001
    return Removal("acme", name, issued).sign(key)


def pinned(kms: KeyBroker, name: str) -> FunctionRecord:
    return FunctionRecord.verify(kms.function_record(name), kms.public_key)


def test_a_pinned_record_is_named_for_its_version_and_carries_that_versions_key(
    kms: KeyBroker, clock: Clock
) -> None:
    v1 = deploy(kms, version(1), clock)
    deploy(kms, version(2), clock)
    record = pinned(kms, "acme/echo@1")
    assert record.name == "acme/echo@1"
    assert (record.version, record.digest, record.public_key) == (1, v1.digest, v1.public_key)
    assert record.expires_ms > int(clock.now * 1000)


def test_the_current_version_can_be_pinned_too(kms: KeyBroker, clock: Clock) -> None:
    v1 = deploy(kms, version(1), clock)
    assert pinned(kms, "acme/echo@1").public_key == v1.public_key


def test_the_unpinned_name_still_answers_the_current_version(kms: KeyBroker, clock: Clock) -> None:
    deploy(kms, version(1), clock)
    v2 = deploy(kms, version(2), clock)
    current = pinned(kms, "acme/echo")
    assert (current.name, current.version, current.digest) == ("acme/echo", 2, v2.digest)


@pytest.mark.parametrize("name", ["acme/echo@3", "acme/echo@0", "acme/echo@x", "acme/other@1"])
def test_a_version_never_deployed_is_not_retained(kms: KeyBroker, clock: Clock, name: str) -> None:
    deploy(kms, version(1), clock)
    deploy(kms, version(2), clock)
    with pytest.raises(VersionNotRetained):
        kms.function_record(name)


def test_versions_beyond_the_retention_are_pruned(kms: KeyBroker, clock: Clock) -> None:
    for n in (1, 2, 3):
        deploy(kms, version(n), clock)
    with pytest.raises(VersionNotRetained):
        kms.function_record("acme/echo@1")
    assert pinned(kms, "acme/echo@2").version == 2


def test_a_pruned_version_stays_pruned_after_a_restart(
    tmp_path: Path, kms: KeyBroker, clock: Clock
) -> None:
    for n in (1, 2, 3):
        deploy(kms, version(n), clock)
    kms._store.close()
    with pytest.raises(VersionNotRetained):
        broker(tmp_path, clock, retain=2).function_record("acme/echo@1")


def test_the_version_list_is_signed_and_names_the_retained_versions(
    kms: KeyBroker, clock: Clock
) -> None:
    records = [deploy(kms, version(n), clock) for n in (1, 2, 3)]
    listed = VersionList.verify(kms.versions("acme/echo"), kms.public_key)
    assert (listed.name, listed.current) == ("acme/echo", 3)
    assert [(v.version, v.digest) for v in listed.versions] == [
        (r.version, r.digest) for r in records[1:]
    ]
    assert listed.expires_ms > int(clock.now * 1000)


def test_a_version_list_verified_with_another_key_is_refused(kms: KeyBroker, clock: Clock) -> None:
    deploy(kms, version(1), clock)
    with pytest.raises(BadSignature):
        VersionList.verify(kms.versions("acme/echo"), SigningKey.generate().public)


def test_a_name_with_an_at_sign_cannot_be_registered(kms: KeyBroker, clock: Clock) -> None:
    with pytest.raises(NamespaceViolation):
        kms.register_function(registration(kms, version(1), clock, name="acme/echo@1"))


def test_a_removed_function_has_no_record_and_no_pinned_version(
    kms: KeyBroker, clock: Clock
) -> None:
    deploy(kms, version(1), clock)
    kms.remove_function(removal(clock))
    with pytest.raises(UnknownFunctionName):
        kms.function_record("acme/echo")
    with pytest.raises(VersionNotRetained):
        kms.function_record("acme/echo@1")
    assert "acme/echo" not in kms.function_names()


def test_a_replayed_removal_is_stale(kms: KeyBroker, clock: Clock) -> None:
    deploy(kms, version(1), clock)
    signed = removal(clock)
    kms.remove_function(signed)
    with pytest.raises(StaleRegistration):
        kms.remove_function(signed)


def test_a_removal_replayed_after_a_new_deploy_is_stale(kms: KeyBroker, clock: Clock) -> None:
    deploy(kms, version(1), clock)
    signed = removal(clock)
    kms.remove_function(signed)
    deploy(kms, version(2), clock)
    with pytest.raises(StaleRegistration):
        kms.remove_function(signed)
    assert pinned(kms, "acme/echo").digest == version(2).digest


def test_a_registration_from_before_the_removal_cannot_bring_the_function_back(
    kms: KeyBroker, clock: Clock
) -> None:
    old = registration(kms, version(1), clock)
    kms.register_function(old)
    kms.remove_function(removal(clock))
    with pytest.raises(StaleRegistration):
        kms.register_function(old)


def test_a_deploy_after_a_removal_continues_the_version_numbers(
    kms: KeyBroker, clock: Clock
) -> None:
    deploy(kms, version(1), clock)
    deploy(kms, version(2), clock)
    kms.remove_function(removal(clock))
    assert deploy(kms, version(3), clock).version == 3


def test_a_removal_signed_by_another_key_is_refused(kms: KeyBroker, clock: Clock) -> None:
    deploy(kms, version(1), clock)
    with pytest.raises(BadSignature):
        kms.remove_function(removal(clock, key=SigningKey.generate()))
    assert pinned(kms, "acme/echo").version == 1


def test_a_removal_outside_the_tenants_namespace_is_refused(kms: KeyBroker, clock: Clock) -> None:
    with pytest.raises(NamespaceViolation):
        kms.remove_function(removal(clock, name="other/echo"))


def test_removing_a_function_never_registered_is_unknown(kms: KeyBroker, clock: Clock) -> None:
    with pytest.raises(UnknownFunctionName):
        kms.remove_function(removal(clock))


def test_a_retention_below_one_is_refused(tmp_path: Path, clock: Clock) -> None:
    with pytest.raises(ValueError, match="retain"):
        broker(tmp_path, clock, retain=0)

"""The KMS's side of versions: a key per version, records with a validity, grants that expire."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import echo_bundle
from veil.attestation.policy import Policy
from veil.kms.broker import KeyBroker
from veil.kms.errors import DigestNotRegistered
from veil.kms.store import KmsStore, load_or_create_master_key
from veil.trusted.crypto import hazmat
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.errors import DecryptionFailed
from veil.trusted.wire.records import FunctionRecord, KeyGrant, Registration, grant_info
from veil.wiring.direct import Deployed, DirectPlatform


class Clock:
    """The KMS's wall clock, moved by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def broker(path: Path, clock: Clock) -> KeyBroker:
    store = KmsStore(path / "kms.sqlite3", load_or_create_master_key(path / "kms-master.key"))
    return KeyBroker(store, [], clock=clock, record_validity_s=120)


def registered(kms: KeyBroker, tenant_key: SigningKey) -> FunctionRecord:
    kms.register_tenant("acme", tenant_key.public)
    registration = Registration("acme", "acme/echo", echo_bundle().digest, Policy.development())
    return FunctionRecord.verify(
        kms.register_function(registration.sign(tenant_key)), kms.public_key
    )


def test_a_record_is_valid_for_the_record_validity(tmp_path: Path) -> None:
    clock = Clock()
    record = registered(broker(tmp_path, clock), SigningKey.generate())
    assert record.issued_ms == int(clock.now * 1000)
    assert record.expires_ms - record.issued_ms == 120_000


def test_the_same_record_is_served_until_half_its_validity_has_passed(tmp_path: Path) -> None:
    clock = Clock()
    kms = broker(tmp_path, clock)
    registered(kms, SigningKey.generate())
    first = kms.function_record("acme/echo")
    clock.now += 59
    assert kms.function_record("acme/echo") == first


def test_the_record_is_re_signed_once_half_its_validity_has_passed(tmp_path: Path) -> None:
    clock = Clock()
    kms = broker(tmp_path, clock)
    before = registered(kms, SigningKey.generate())
    clock.now += 61
    after = FunctionRecord.verify(kms.function_record("acme/echo"), kms.public_key)
    assert after.issued_ms == int(clock.now * 1000)
    assert (after.version, after.digest, after.public_key) == (
        before.version,
        before.digest,
        before.public_key,
    )


def test_a_restarted_kms_keeps_its_re_signed_record(tmp_path: Path) -> None:
    clock = Clock()
    kms = broker(tmp_path, clock)
    registered(kms, SigningKey.generate())
    clock.now += 61
    fresh = kms.function_record("acme/echo")
    kms._store.close()
    assert broker(tmp_path, clock).function_record("acme/echo") == fresh


def test_every_version_has_a_key_of_its_own(platform: DirectPlatform, echo: Deployed) -> None:
    v2 = platform.deploy(echo_bundle(capture_logs=True))
    v3 = platform.deploy(echo_bundle(capture_logs=True))  # the same code again: still a new key
    keys = {d.record.public_key for d in (echo, v2, v3)}
    assert len(keys) == 3


def test_an_older_version_can_no_longer_be_released(
    platform: DirectPlatform, echo: Deployed
) -> None:
    platform.deploy(echo_bundle(capture_logs=True))
    enclave = platform.start_enclave()
    with pytest.raises(DigestNotRegistered):
        platform.kms.release(enclave.key_request(echo.record.name, echo.record.digest))


def test_a_grant_expires_after_the_grant_ttl(platform: DirectPlatform, echo: Deployed) -> None:
    enclave = platform.start_enclave()
    before = int(time.time() * 1000)
    grant = KeyGrant.verify(
        platform.kms.release(enclave.key_request(echo.record.name, echo.record.digest)),
        platform.kms.public_key,
    )
    assert before + 300_000 <= grant.expires_ms <= int(time.time() * 1000) + 300_000


def test_a_grant_is_sealed_to_its_version(platform: DirectPlatform, echo: Deployed) -> None:
    enclave = platform.start_enclave()
    grant = KeyGrant.verify(
        platform.kms.release(enclave.key_request(echo.record.name, echo.record.digest)),
        platform.kms.public_key,
    )
    record = echo.record
    with pytest.raises(DecryptionFailed):
        hazmat.hpke_open(
            enclave._hpke,
            grant.sealed,
            grant_info(record.name, record.digest, record.version + 1, enclave.key_id),
        )

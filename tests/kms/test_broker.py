"""The KMS releases a function's key only to an attested enclave its policy accepts."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import echo_bundle
from veil.attestation.errors import TokenInvalid
from veil.attestation.policy import Policy, PolicyRefused
from veil.kms.broker import KeyBroker
from veil.kms.errors import (
    DigestNotRegistered,
    NamespaceViolation,
    SimRefusedInProduction,
    StaleRegistration,
    UnknownTenant,
    WrongKms,
)
from veil.kms.store import KmsStore, load_or_create_master_key
from veil.registration import Registration
from veil.trusted.attest.sim import measurement
from veil.trusted.crypto import hazmat, recipes
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.enclave import Enclave
from veil.trusted.errors import BadSignature, DecryptionFailed, MalformedMessage
from veil.trusted.wire.records import FunctionRecord
from veil.wiring.direct import Deployed, DirectPlatform


def test_another_tenants_function_key_is_refused(platform: DirectPlatform) -> None:
    rival = SigningKey.generate()
    platform.kms.register_tenant("rival", rival.public)
    theirs = echo_bundle("rival/secret-fn")
    platform.kms.register_function(
        Registration("rival", "rival/secret-fn", theirs.digest, Policy.development()).sign(
            rival, platform.kms.seal_key
        )
    )
    enclave = platform.start_enclave()
    mine = echo_bundle("acme/echo").digest
    with pytest.raises(DigestNotRegistered):
        platform.kms.release(enclave.key_request("rival/secret-fn", mine))


def test_tenant_cannot_register_in_another_namespace(platform: DirectPlatform) -> None:
    reg = Registration("acme", "rival/fn", bytes(32), Policy.development())
    with pytest.raises(NamespaceViolation):
        platform.kms.register_function(reg.sign(platform.tenant_key, platform.kms.seal_key))


def test_registration_signed_by_another_key_is_refused(platform: DirectPlatform) -> None:
    reg = Registration("acme", "acme/fn", bytes(32), Policy.development())
    with pytest.raises(BadSignature):
        platform.kms.register_function(reg.sign(SigningKey.generate(), platform.kms.seal_key))


def test_unknown_tenant_is_refused(platform: DirectPlatform) -> None:
    key = SigningKey.generate()
    with pytest.raises(UnknownTenant):
        platform.kms.register_function(
            Registration("nobody", "nobody/fn", bytes(32), Policy.development()).sign(
                key, platform.kms.seal_key
            )
        )


def test_policy_without_sim_refuses_sim_enclaves(platform: DirectPlatform) -> None:
    deployed = platform.deploy(echo_bundle("acme/prod"), policy=Policy(tee_types=("sgx", "tdx")))
    enclave = platform.start_enclave()
    with pytest.raises(PolicyRefused, match="sim"):
        platform.kms.release(enclave.key_request(deployed.record.name, deployed.record.digest))


def test_policy_pinning_another_measurement_refuses(platform: DirectPlatform) -> None:
    deployed = platform.deploy(echo_bundle("acme/pinned"), policy=Policy.development(("ab" * 32,)))
    enclave = platform.start_enclave()
    with pytest.raises(PolicyRefused, match="measurement"):
        platform.kms.release(enclave.key_request(deployed.record.name, deployed.record.digest))


def test_policy_that_names_sim_without_allowing_it_is_malformed() -> None:
    with pytest.raises(MalformedMessage):
        Policy(tee_types=("sim",))


def test_sim_policies_warn_loudly() -> None:
    assert any("no hardware protection" in w for w in Policy.development().warnings())
    assert Policy().warnings() == []


def test_production_kms_refuses_sim_policies(tmp_path: Path) -> None:
    store = KmsStore(tmp_path / "kms.db", load_or_create_master_key(tmp_path / "m.key"))
    kms = KeyBroker(store, [], production=True)
    tenant = SigningKey.generate()
    kms.register_tenant("acme", tenant.public)
    with pytest.raises(SimRefusedInProduction):
        kms.register_function(
            Registration("acme", "acme/f", bytes(32), Policy.development()).sign(
                tenant, kms.seal_key
            )
        )


def test_enclave_bound_to_another_kms_gets_no_keys(
    platform: DirectPlatform, echo: Deployed
) -> None:
    rogue = Enclave(SigningKey.generate().public)
    nonce = platform.verifier.challenge()
    evidence = platform.attester.evidence(rogue.report_data(nonce))
    rogue.set_attestation(
        platform.verifier.attest("sim", evidence, rogue.binding.to_bytes(), nonce)
    )
    with pytest.raises(WrongKms):
        platform.kms.release(rogue.key_request(echo.record.name, echo.record.digest))


def test_forged_attestation_token_gets_no_keys(platform: DirectPlatform, echo: Deployed) -> None:
    enclave = platform.start_enclave()
    enclave.set_attestation("eyJhbGciOiJFZERTQSJ9.e30.AAAA")
    with pytest.raises(TokenInvalid):
        platform.kms.release(enclave.key_request(echo.record.name, echo.record.digest))


def test_expired_attestation_token_gets_no_keys(tmp_path: Path) -> None:
    platform = DirectPlatform(tmp_path)
    deployed = platform.deploy(echo_bundle())
    enclave = platform.start_enclave()
    later = KeyBroker(
        platform.kms._store, [platform.verifier.key.public], clock=lambda: time.time() + 7200
    )
    with pytest.raises(TokenInvalid, match="expired"):
        later.release(enclave.key_request(deployed.record.name, deployed.record.digest))


def test_grant_opens_only_in_the_enclave_it_was_sealed_to(
    platform: DirectPlatform, echo: Deployed
) -> None:
    enclave, thief = platform.start_enclave(), platform.start_enclave()
    from veil.trusted.wire.records import KeyGrant, grant_info

    grant = KeyGrant.verify(
        platform.kms.release(enclave.key_request(echo.record.name, echo.record.digest)),
        platform.kms.public_key,
    )
    with pytest.raises(DecryptionFailed):
        hazmat.hpke_open(
            thief._hpke,
            grant.sealed,
            grant_info(echo.record.name, echo.record.digest, echo.record.version, thief.key_id),
        )


def test_restarted_kms_serves_the_same_functions_with_the_same_keys(tmp_path: Path) -> None:
    platform = DirectPlatform(tmp_path)
    deployed = platform.deploy(echo_bundle())
    platform.kms._store.close()
    store = KmsStore(
        tmp_path / "kms.sqlite3", load_or_create_master_key(tmp_path / "kms-master.key")
    )
    restarted = KeyBroker(store, [platform.verifier.key.public])
    assert restarted.public_key == platform.kms.public_key
    assert restarted.seal_key == platform.kms.seal_key
    assert restarted.function_record(deployed.record.name) == deployed.record_bytes
    platform.kms = restarted
    enclave = platform.start_enclave()
    platform.provision(enclave, deployed)


def test_private_keys_are_not_stored_in_the_clear(tmp_path: Path) -> None:
    platform = DirectPlatform(tmp_path)
    deployed = platform.deploy(echo_bundle(), secrets={"api-token": b"hunter2-very-secret"})
    private = platform.kms._store.function(deployed.record.name)
    assert private is not None
    platform.kms._store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("kms.sqlite3*"))
    assert private.private_key not in raw
    assert b"hunter2-very-secret" not in raw
    assert deployed.code_key not in raw
    assert platform.kms._seal.to_bytes() not in raw


def test_the_grant_carries_the_deploys_code_key_and_the_secrets(
    platform: DirectPlatform,
) -> None:
    from veil.trusted.wire.records import GrantedKeys, KeyGrant, grant_info

    deployed = platform.deploy(echo_bundle(), secrets={"api-token": b"hunter2"})
    enclave = platform.start_enclave()
    record = deployed.record
    grant = KeyGrant.verify(
        platform.kms.release(enclave.key_request(record.name, record.digest)),
        platform.kms.public_key,
    )
    info = grant_info(record.name, record.digest, record.version, enclave.key_id)
    keys = GrantedKeys.from_bytes(recipes.open_grant(enclave._hpke, grant.sealed, info))
    assert keys.code_key == deployed.code_key
    assert keys.secrets == {"api-token": b"hunter2"}


def test_a_redeploy_releases_the_new_deploys_code_key(platform: DirectPlatform) -> None:
    """Each deploy seals its bundle under a fresh key; only the newest opens in an enclave."""
    first = platform.deploy(echo_bundle())
    second = platform.deploy(echo_bundle())
    assert first.code_key != second.code_key
    enclave = platform.start_enclave()
    with pytest.raises(DecryptionFailed):
        platform.provision(enclave, first)
    platform.provision(enclave, second)


def test_row_copied_onto_another_function_does_not_open(tmp_path: Path) -> None:
    platform = DirectPlatform(tmp_path)
    a = platform.deploy(echo_bundle("acme/a"))
    platform.deploy(echo_bundle("acme/b"))
    db = sqlite3.connect(tmp_path / "kms.sqlite3")
    sealed = db.execute(
        "SELECT sealed_private FROM functions WHERE name = ?", (a.record.name,)
    ).fetchone()[0]
    db.execute("UPDATE functions SET sealed_private = ? WHERE name = 'acme/b'", (sealed,))
    db.commit()
    with pytest.raises(DecryptionFailed):
        platform.kms._store.function("acme/b")


def test_redeploy_rotates_the_function_key_and_bumps_the_version(platform: DirectPlatform) -> None:
    first = platform.deploy(echo_bundle())
    second = platform.deploy(echo_bundle("acme/echo", capture_logs=True))
    assert second.record.public_key != first.record.public_key
    assert second.record.version == first.record.version + 1
    assert second.record.digest != first.record.digest


def test_function_record_is_signed_by_the_kms(platform: DirectPlatform, echo: Deployed) -> None:
    with pytest.raises(BadSignature):
        FunctionRecord.verify(echo.record_bytes, SigningKey.generate().public)
    assert echo.record.policy_hash == Policy.development((measurement().hex(),)).digest()


def test_replayed_old_registration_cannot_roll_a_function_back(platform: DirectPlatform) -> None:
    old = Registration("acme", "acme/echo", echo_bundle().digest, Policy.development()).sign(
        platform.tenant_key, platform.kms.seal_key
    )
    platform.kms.register_function(old)
    newer = echo_bundle("acme/echo", capture_logs=True)
    platform.kms.register_function(
        Registration("acme", "acme/echo", newer.digest, Policy.development()).sign(
            platform.tenant_key, platform.kms.seal_key
        )
    )
    with pytest.raises(StaleRegistration):
        platform.kms.register_function(old)
    assert (
        FunctionRecord.verify(
            platform.kms.function_record("acme/echo"), platform.kms.public_key
        ).digest
        == newer.digest
    )


def test_registration_outside_the_time_window_is_refused(platform: DirectPlatform) -> None:
    stale = Registration(
        "acme",
        "acme/fn",
        bytes(32),
        Policy.development(),
        issued_us=int(time.time() * 1_000_000) - 3_600_000_000,
    )
    with pytest.raises(StaleRegistration):
        platform.kms.register_function(stale.sign(platform.tenant_key, platform.kms.seal_key))

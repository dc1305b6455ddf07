"""Registration v2: signed clear fields, and a code key and secrets only the KMS can open."""

from __future__ import annotations

import contextlib
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.attestation.policy import Policy
from veil.registration import (
    REGISTER_CONTEXT,
    SEAL_SUITE,
    Registration,
    SealedPart,
    SealKey,
    open_registration,
)
from veil.trusted.crypto import hazmat, recipes
from veil.trusted.crypto.signing import SigningKey, VerifyKey
from veil.trusted.errors import BadSignature, DecryptionFailed, MalformedMessage
from veil.trusted.wire import signed

TENANT = SigningKey.generate()
KMS = SigningKey.generate()
SEAL = hazmat.HpkePrivateKey.generate(SEAL_SUITE)
SEAL_KEY = SealKey.signed(SEAL, KMS)
SECRET = b"a secret value 93b1c"


def registration(**fields: Any) -> Registration:
    values = {"tenant": "acme", "name": "acme/fn", "digest": bytes(range(32))} | fields
    return Registration(policy=Policy.development(), secrets={"token": SECRET}, **values)


def tenant_key(tenant: str) -> VerifyKey:
    assert tenant in ("acme", "rival")
    return TENANT.public


def opened(data: bytes, seal: hazmat.HpkePrivateKey = SEAL) -> Registration:
    return open_registration(data, tenant_key=tenant_key, seal_key=seal)


def body(data: bytes) -> dict[str, Any]:
    decoded: dict[str, Any] = cbor2.loads(cbor2.loads(data)["body"])
    return decoded


def test_a_registration_opens_to_what_the_tenant_signed_code_key_and_secrets_included() -> None:
    reg = registration()
    assert opened(reg.sign(TENANT, SEAL_KEY)) == reg


def test_every_registration_gets_a_fresh_code_key() -> None:
    assert registration().code_key != registration().code_key
    assert len(registration().code_key) == 32


def test_neither_the_code_key_nor_a_secret_is_in_the_clear() -> None:
    reg = registration()
    data = reg.sign(TENANT, SEAL_KEY)
    assert SECRET not in data and reg.code_key not in data and b"token" not in data
    assert set(body(data)) == {"v", "tenant", "name", "digest", "policy", "suite", "issued"} | {
        "sealed"
    }


def test_the_tenants_log_key_travels_sealed_to_the_kms_only() -> None:
    log_key = hazmat.HpkePrivateKey.generate(recipes.LOG_SUITE).public_bytes
    data = registration(log_key=log_key).sign(TENANT, SEAL_KEY)
    assert log_key not in data
    assert opened(data).log_key == log_key


def test_a_registration_sealed_to_another_kms_does_not_open() -> None:
    other = SealKey.signed(hazmat.HpkePrivateKey.generate(SEAL_SUITE), KMS)
    with pytest.raises(DecryptionFailed):
        opened(registration().sign(TENANT, other))


@pytest.mark.parametrize(
    "field, value",
    [("tenant", "rival"), ("name", "acme/other"), ("digest", bytes(32)), ("issued", 1)],
)
def test_the_sealed_part_opens_only_under_the_clear_fields_it_was_sealed_with(
    field: str, value: object
) -> None:
    """Re-signed by the same tenant, even: the HPKE info binds tenant, name, digest, issued."""
    moved = {**body(registration().sign(TENANT, SEAL_KEY)), field: value}
    with pytest.raises(DecryptionFailed):
        opened(signed.sign_document(TENANT, REGISTER_CONTEXT, moved))


def test_a_clear_field_changed_without_the_tenants_signature_is_refused() -> None:
    data = cbor2.loads(registration().sign(TENANT, SEAL_KEY))
    data["body"] = cbor2.dumps({**cbor2.loads(data["body"]), "name": "acme/other"})
    with pytest.raises(BadSignature):
        opened(cbor2.dumps(data))


def test_a_v1_registration_with_clear_secrets_is_malformed() -> None:
    v1 = {**body(registration().sign(TENANT, SEAL_KEY)), "v": 1, "secrets": {"t": SECRET}}
    del v1["sealed"]
    with pytest.raises(MalformedMessage):
        opened(signed.sign_document(TENANT, REGISTER_CONTEXT, v1))


@pytest.mark.parametrize(
    "part",
    [
        {"code_key": bytes(16), "secrets": {}},
        {"code_key": bytes(32), "secrets": {"t": "not bytes"}},
        {"code_key": bytes(32)},
        {"code_key": bytes(32), "secrets": {}, "log_key": bytes(32)},
    ],
)
def test_a_sealed_part_of_the_wrong_shape_is_malformed(part: dict[str, object]) -> None:
    with pytest.raises(MalformedMessage):
        SealedPart.from_bytes(cbor2.dumps(part))


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_garbage_registrations_raise_only_malformed_message(data: bytes) -> None:
    with contextlib.suppress(MalformedMessage):
        opened(data)


def test_the_seal_key_round_trips_as_json_under_the_kms_signature() -> None:
    assert SealKey.from_json(SEAL_KEY.to_json(), KMS.public) == SEAL_KEY


def test_a_seal_key_swapped_under_the_kms_signature_is_refused() -> None:
    swapped = {
        **SEAL_KEY.to_json(),
        "key": hazmat.HpkePrivateKey.generate(SEAL_SUITE).public_bytes.hex(),
    }
    with pytest.raises(BadSignature):
        SealKey.from_json(swapped, KMS.public)
    with pytest.raises(BadSignature):
        SealKey.from_json(SEAL_KEY.to_json(), SigningKey.generate().public)


@pytest.mark.parametrize(
    "change",
    [{"suite": "rot13"}, {"key": "zz"}, {"key": "00" * 31}, {"sig": None}],
)
def test_a_seal_key_that_does_not_parse_is_malformed(change: dict[str, object]) -> None:
    with pytest.raises(MalformedMessage):
        SealKey.from_json({**SEAL_KEY.to_json(), **change}, KMS.public)

"""Bundles: any change to manifest or code changes the digest; only the registered signer counts."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import echo_bundle
from veil.trusted.bundle import Bundle, BundleRefused, Limits, Manifest, SignedBundle
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.errors import BadSignature, MalformedMessage

TENANT = SigningKey.generate()


def test_signed_bundle_round_trips_and_verifies() -> None:
    bundle = echo_bundle()
    signed = SignedBundle.from_bytes(SignedBundle.sign(bundle, TENANT).to_bytes())
    assert signed.verify(digest=bundle.digest, signer=TENANT.public) == bundle


def test_every_code_byte_is_covered_by_the_digest() -> None:
    bundle = echo_bundle()
    for i in range(0, len(bundle.code), 7):
        code = bytearray(bundle.code)
        code[i] ^= 0x01
        assert Bundle(bundle.manifest, bytes(code)).digest != bundle.digest


@pytest.mark.parametrize(
    "change",
    [
        {"version": "2"},
        {"entrypoint": "other"},
        {"limits": Limits(memory_pages=33)},
        {"suite": "mlkem768-x25519"},
        {"capture_logs": True},
    ],
)
def test_every_manifest_field_is_covered_by_the_digest(change: dict[str, object]) -> None:
    base = echo_bundle()
    changed = Bundle(Manifest(**{**base.manifest.__dict__, **change}), base.code)  # type: ignore[arg-type]
    assert changed.digest != base.digest


def test_altered_bundle_under_the_original_signature_is_refused() -> None:
    bundle = echo_bundle()
    signed = SignedBundle.sign(bundle, TENANT)
    altered = SignedBundle(
        Bundle(bundle.manifest, bundle.code + b"\x00"), TENANT.public, signed.signature
    )
    with pytest.raises(BundleRefused):
        altered.verify(digest=bundle.digest, signer=TENANT.public)
    with pytest.raises(BadSignature):
        altered.verify(digest=altered.bundle.digest, signer=TENANT.public)


def test_bundle_re_signed_by_another_key_is_refused() -> None:
    bundle = echo_bundle()
    resigned = SignedBundle.sign(bundle, SigningKey.generate())
    with pytest.raises(BundleRefused, match="another key"):
        resigned.verify(digest=bundle.digest, signer=TENANT.public)


def test_unsigned_bundle_with_a_forged_signature_is_refused() -> None:
    bundle = echo_bundle()
    with pytest.raises(BadSignature):
        SignedBundle(bundle, TENANT.public, bytes(64)).verify(
            digest=bundle.digest, signer=TENANT.public
        )


@pytest.mark.parametrize(
    "fields",
    [
        {"name": ""},
        {"name": "has space"},
        {"runtime": "cobol"},
        {"abi": "component"},
        {"suite": "rot13"},
        {"limits": {"memory_pages": 0}},
    ],
)
def test_bad_manifests_are_malformed(fields: dict[str, object]) -> None:
    with pytest.raises(MalformedMessage):
        if "limits" in fields:
            Limits(**fields["limits"])  # type: ignore[arg-type]
        else:
            Manifest(**{"name": "t/x", "version": "1", **fields})  # type: ignore[arg-type]


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_garbage_raises_only_malformed_message(data: bytes) -> None:
    with contextlib.suppress(MalformedMessage):
        SignedBundle.from_bytes(data)


def test_every_truncation_raises_only_malformed_message() -> None:
    data = SignedBundle.sign(echo_bundle(), TENANT).to_bytes()
    for cut in range(len(data)):
        with pytest.raises(MalformedMessage):
            SignedBundle.from_bytes(data[:cut])

"""Bundles: any change to manifest or code changes the digest; only the registered signer counts;
outside the tenant and the enclave the code is ciphertext that opens only as what was sealed."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import echo_bundle
from veil.trusted.bundle import (
    Bundle,
    BundleRefused,
    Limits,
    Manifest,
    SealedBundle,
    SignedBundle,
)
from veil.trusted.crypto import recipes
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.errors import BadSignature, DecryptionFailed, MalformedMessage

TENANT = SigningKey.generate()
CODE_KEY = recipes.new_symmetric_key()


def sealed(bundle: Bundle, key: bytes = CODE_KEY, signer: SigningKey = TENANT) -> SealedBundle:
    return SealedBundle.seal(SignedBundle.sign(bundle, signer), key)


def test_signed_bundle_verifies() -> None:
    bundle = echo_bundle()
    assert SignedBundle.sign(bundle, TENANT).verify(digest=bundle.digest, signer=TENANT.public)


def test_sealed_bundle_round_trips_and_opens_to_the_bundle_under_its_code_key() -> None:
    bundle = echo_bundle()
    wire = sealed(bundle).to_bytes()
    opened = SealedBundle.from_bytes(wire).open(
        CODE_KEY, digest=bundle.digest, signer=TENANT.public
    )
    assert opened == bundle


def test_a_sealed_bundle_shows_manifest_digest_and_size_but_not_the_code() -> None:
    bundle = echo_bundle()
    wire = sealed(bundle).to_bytes()
    assert bundle.code not in wire
    assert not any(bundle.code[i : i + 16] in wire for i in range(0, len(bundle.code) - 16, 8))
    parsed = SealedBundle.from_bytes(wire)
    assert (parsed.manifest, parsed.digest) == (bundle.manifest, bundle.digest)
    assert len(parsed.code) == len(bundle.code) + 28  # nonce and tag: the size shows


def test_equal_code_sealed_twice_shows_the_same_digest_and_different_ciphertext() -> None:
    bundle = echo_bundle()
    first, second = sealed(bundle), sealed(bundle, recipes.new_symmetric_key())
    assert first.digest == second.digest
    assert first.code != second.code


def test_a_sealed_bundle_does_not_open_under_another_code_key() -> None:
    bundle = echo_bundle()
    with pytest.raises(DecryptionFailed):
        sealed(bundle).open(recipes.new_symmetric_key(), digest=bundle.digest, signer=TENANT.public)


def test_every_flipped_bit_of_the_code_ciphertext_is_refused() -> None:
    bundle = echo_bundle()
    good = sealed(bundle)
    for i in range(0, len(good.code), max(1, len(good.code) // 40)):
        code = bytearray(good.code)
        code[i] ^= 0x01
        flipped = dataclasses.replace(good, code=bytes(code))
        with pytest.raises(DecryptionFailed):
            flipped.open(CODE_KEY, digest=bundle.digest, signer=TENANT.public)


def test_code_sealed_under_another_manifest_or_digest_does_not_open() -> None:
    """The AAD binds the manifest and the digest the record names: code is not movable."""
    bundle = echo_bundle()
    good = sealed(bundle)
    renamed = dataclasses.replace(good, manifest=Manifest("acme/other", "1"))
    with pytest.raises(DecryptionFailed):
        renamed.open(CODE_KEY, digest=bundle.digest, signer=TENANT.public)
    with pytest.raises(DecryptionFailed):
        good.open(CODE_KEY, digest=bytes(32), signer=TENANT.public)


def test_a_sealed_bundle_is_still_checked_against_its_signature_once_open() -> None:
    bundle = echo_bundle()
    forged = dataclasses.replace(sealed(bundle), signature=bytes(64))
    with pytest.raises(BadSignature):
        forged.open(CODE_KEY, digest=bundle.digest, signer=TENANT.public)
    other = sealed(bundle, signer=SigningKey.generate())
    with pytest.raises(BundleRefused, match="another key"):
        other.open(CODE_KEY, digest=bundle.digest, signer=TENANT.public)


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
        SealedBundle.from_bytes(data)


def test_every_truncation_raises_only_malformed_message() -> None:
    data = sealed(echo_bundle()).to_bytes()
    for cut in range(len(data)):
        with pytest.raises(MalformedMessage):
            SealedBundle.from_bytes(data[:cut])

"""HPKE both suites, AEAD, and domain-separated signatures."""

from __future__ import annotations

import pytest

from veil.trusted.crypto import hazmat
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.errors import BadSignature, DecryptionFailed, MalformedMessage

SUITES = list(hazmat.Suite)


@pytest.mark.parametrize("suite", SUITES)
def test_hpke_round_trips_and_binds_info(suite: hazmat.Suite) -> None:
    key = hazmat.HpkePrivateKey.generate(suite)
    sealed = hazmat.hpke_seal(suite, key.public_bytes, b"secret", b"info")
    assert hazmat.hpke_open(key, sealed, b"info") == b"secret"
    with pytest.raises(DecryptionFailed):
        hazmat.hpke_open(key, sealed, b"other info")


@pytest.mark.parametrize("suite", SUITES)
def test_hpke_to_another_key_does_not_open(suite: hazmat.Suite) -> None:
    sealed = hazmat.hpke_seal(
        suite, hazmat.HpkePrivateKey.generate(suite).public_bytes, b"secret", b"i"
    )
    with pytest.raises(DecryptionFailed):
        hazmat.hpke_open(hazmat.HpkePrivateKey.generate(suite), sealed, b"i")


@pytest.mark.parametrize("suite", SUITES)
def test_private_key_round_trips_through_bytes(suite: hazmat.Suite) -> None:
    key = hazmat.HpkePrivateKey.generate(suite)
    again = hazmat.HpkePrivateKey(suite, key.to_bytes())
    assert again.public_bytes == key.public_bytes
    assert "private=**" in repr(again)


@pytest.mark.parametrize("suite", SUITES)
def test_private_key_of_another_suites_length_is_malformed(suite: hazmat.Suite) -> None:
    other = next(s for s in SUITES if s is not suite)
    with pytest.raises(MalformedMessage):
        hazmat.HpkePrivateKey(suite, hazmat.HpkePrivateKey.generate(other).to_bytes())


def test_public_key_of_the_wrong_length_is_malformed() -> None:
    with pytest.raises(MalformedMessage):
        hazmat.hpke_seal(hazmat.Suite.PQ_HYBRID, b"x" * 32, b"", b"")


def test_aead_detects_any_flipped_byte() -> None:
    key = hazmat.new_aead_key()
    sealed = hazmat.aead_seal(key, b"payload", b"aad")
    for i in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[i] ^= 1
        with pytest.raises(DecryptionFailed):
            hazmat.aead_open(key, bytes(tampered), b"aad")


def test_signature_is_bound_to_its_context() -> None:
    key = SigningKey.generate()
    sig = key.sign(b"veil/a", b"msg")
    key.public.verify(b"veil/a", b"msg", sig)
    with pytest.raises(BadSignature):
        key.public.verify(b"veil/b", b"msg", sig)


def test_signing_key_repr_hides_the_key() -> None:
    key = SigningKey.generate()
    assert key.to_bytes().hex() not in repr(key)

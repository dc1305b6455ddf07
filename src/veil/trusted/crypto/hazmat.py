"""HAZMAT: raw HPKE (RFC 9180) and AEAD. Only `veil.trusted.crypto.recipes` calls this.

Two HPKE suites, both from `cryptography`:
- `x25519`: DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM (default);
- `mlkem768-x25519`: the post-quantum hybrid ML-KEM-768 + X25519 KEM, same KDF and AEAD.

Raw key encodings: X25519 keys are 32 bytes; hybrid public keys are the
ML-KEM-768 encapsulation key (1184 bytes) followed by the X25519 key, hybrid
private keys the ML-KEM seed (64 bytes) followed by the X25519 key.
"""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from veil.trusted.errors import DecryptionFailed, MalformedMessage

AEAD_KEY_SIZE: Final = 32
AEAD_NONCE_SIZE: Final = 12
AEAD_TAG_SIZE: Final = 16
_X25519_SIZE: Final = 32
_MLKEM768_PUBLIC_SIZE: Final = 1184
_MLKEM_SEED_SIZE: Final = 64


class Suite(StrEnum):
    X25519 = "x25519"
    PQ_HYBRID = "mlkem768-x25519"

    @property
    def public_key_size(self) -> int:
        return _X25519_SIZE if self is Suite.X25519 else _MLKEM768_PUBLIC_SIZE + _X25519_SIZE

    @property
    def private_key_size(self) -> int:
        return _X25519_SIZE if self is Suite.X25519 else _MLKEM_SEED_SIZE + _X25519_SIZE


_SUITES: Final = {
    Suite.X25519: hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM),
    Suite.PQ_HYBRID: hpke.Suite(
        hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM
    ),
}

_PublicKey = x25519.X25519PublicKey | hpke.MLKEM768X25519PublicKey
_PrivateKey = x25519.X25519PrivateKey | hpke.MLKEM768X25519PrivateKey


def parse_suite(name: str) -> Suite:
    try:
        return Suite(name)
    except ValueError:
        raise MalformedMessage(f"unknown HPKE suite {name!r}") from None


def _load_public(suite: Suite, raw: bytes) -> _PublicKey:
    if len(raw) != suite.public_key_size:
        raise MalformedMessage("HPKE public key has the wrong length for its suite")
    try:
        if suite is Suite.X25519:
            return x25519.X25519PublicKey.from_public_bytes(raw)
        return hpke.MLKEM768X25519PublicKey(
            mlkem.MLKEM768PublicKey.from_public_bytes(raw[:_MLKEM768_PUBLIC_SIZE]),
            x25519.X25519PublicKey.from_public_bytes(raw[_MLKEM768_PUBLIC_SIZE:]),
        )
    except ValueError:
        raise MalformedMessage("HPKE public key does not parse") from None


class HpkePrivateKey:
    """A KEM private key for one suite; its repr never shows the key."""

    __slots__ = ("_key", "_raw", "public_bytes", "suite")

    def __init__(self, suite: Suite, raw: bytes) -> None:
        if len(raw) != suite.private_key_size:  # any bytes of the right length are a key
            raise MalformedMessage("HPKE private key has the wrong length for its suite")
        self.suite, self._raw = suite, raw
        xk = x25519.X25519PrivateKey.from_private_bytes(raw[-_X25519_SIZE:])
        self._key: _PrivateKey = xk
        self.public_bytes = xk.public_key().public_bytes_raw()
        if suite is Suite.PQ_HYBRID:
            mk = mlkem.MLKEM768PrivateKey.from_seed_bytes(raw[:_MLKEM_SEED_SIZE])
            self._key = hpke.MLKEM768X25519PrivateKey(mk, xk)
            self.public_bytes = mk.public_key().public_bytes_raw() + self.public_bytes

    @classmethod
    def generate(cls, suite: Suite) -> HpkePrivateKey:
        return cls(suite, os.urandom(suite.private_key_size))

    def to_bytes(self) -> bytes:
        return self._raw

    def __repr__(self) -> str:
        return f"HpkePrivateKey({self.suite.value}, private=**********)"


def hpke_seal(suite: Suite, public_key: bytes, plaintext: bytes, info: bytes) -> bytes:
    """Seal `plaintext` to `public_key`, binding `info`; returns enc || ct."""
    return _SUITES[suite].encrypt(plaintext, _load_public(suite, public_key), info=info)


def hpke_open(key: HpkePrivateKey, sealed: bytes, info: bytes) -> bytes:
    """Open a single-shot HPKE ciphertext (enc || ct) bound to `info`."""
    try:
        return _SUITES[key.suite].decrypt(sealed, key._key, info=info)
    except (InvalidTag, ValueError):
        raise DecryptionFailed("HPKE payload does not open") from None


def new_aead_key() -> bytes:
    return os.urandom(AEAD_KEY_SIZE)


def aead_seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM with a fresh random nonce; returns nonce || ct || tag."""
    nonce = os.urandom(AEAD_NONCE_SIZE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def aead_open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(key) != AEAD_KEY_SIZE:
        raise MalformedMessage("AEAD key has the wrong length")
    if len(sealed) < AEAD_NONCE_SIZE + AEAD_TAG_SIZE:
        raise DecryptionFailed("AEAD payload is truncated")
    try:
        return AESGCM(key).decrypt(sealed[:AEAD_NONCE_SIZE], sealed[AEAD_NONCE_SIZE:], aad)
    except InvalidTag:
        raise DecryptionFailed("AEAD payload does not open") from None

"""Ed25519 signatures with domain separation.

Every signature covers `context || 0x00 || message`, so a signature made for
one purpose (a receipt, say) can never be replayed as another (a bundle).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from veil.trusted.crypto.digest import sha256
from veil.trusted.errors import BadSignature, MalformedMessage

PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


class SigningKey:
    """An Ed25519 private key; its repr never shows the key."""

    __slots__ = ("_key", "public")

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public = VerifyKey(key.public_key().public_bytes_raw())

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_bytes(cls, raw: bytes) -> SigningKey:
        if len(raw) != 32:
            raise ValueError("an Ed25519 private key is 32 bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    def to_bytes(self) -> bytes:
        return self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def sign(self, context: bytes, message: bytes) -> bytes:
        return self._key.sign(context + b"\x00" + message)

    def __repr__(self) -> str:
        return f"SigningKey(public={self.public.key_id.hex()[:16]}…, private=**********)"


class VerifyKey:
    """An Ed25519 public key, comparable and hashable by its bytes."""

    __slots__ = ("_key", "raw")

    def __init__(self, raw: bytes) -> None:
        if len(raw) != PUBLIC_KEY_SIZE:
            raise MalformedMessage("an Ed25519 public key is 32 bytes")
        self.raw = bytes(raw)
        self._key = Ed25519PublicKey.from_public_bytes(self.raw)

    @property
    def key_id(self) -> bytes:
        """A stable identifier: SHA-256 of the raw key."""
        return sha256(b"veil/key-id/ed25519", self.raw)

    def verify(self, context: bytes, message: bytes, signature: bytes) -> None:
        """Raise `BadSignature` unless `signature` is this key's over (context, message)."""
        if len(signature) != SIGNATURE_SIZE:
            raise BadSignature("signature has the wrong length")
        try:
            self._key.verify(signature, context + b"\x00" + message)
        except InvalidSignature:
            raise BadSignature("signature does not verify") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VerifyKey) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"VerifyKey({self.raw.hex()[:16]}…)"

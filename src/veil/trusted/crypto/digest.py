"""Hashes used for digests, ids and report data."""

from __future__ import annotations

import hashlib


def sha256(*parts: bytes) -> bytes:
    """SHA-256 over the concatenation of `parts`."""
    return _digest(hashlib.sha256(), parts)


def sha512(*parts: bytes) -> bytes:
    """SHA-512 over the concatenation of `parts` (64 bytes: the size of TEE report data)."""
    return _digest(hashlib.sha512(), parts)


def _digest(h: hashlib._Hash, parts: tuple[bytes, ...]) -> bytes:
    for part in parts:  # fed one by one: a 64 MiB bundle is never copied into one buffer
        h.update(part)
    return h.digest()

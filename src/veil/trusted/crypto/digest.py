"""Hashes used for digests, ids and report data."""

from __future__ import annotations

import hashlib


def sha256(*parts: bytes) -> bytes:
    """SHA-256 over the concatenation of `parts`."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.digest()


def sha512(*parts: bytes) -> bytes:
    """SHA-512 over the concatenation of `parts` (64 bytes: the size of TEE report data)."""
    h = hashlib.sha512()
    for part in parts:
        h.update(part)
    return h.digest()

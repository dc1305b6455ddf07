"""Tenant signing keys on disk (mode 0600)."""

from __future__ import annotations

import os
from pathlib import Path

from veil.trusted.crypto.signing import SigningKey


def save_key(key: SigningKey, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.to_bytes())


def load_key(path: Path) -> SigningKey:
    return SigningKey.from_bytes(path.read_bytes())

"""The `sim` TEE: every protocol runs for real, but NOTHING is protected.

The enclave runs as an ordinary process; the host can read its memory. The
evidence is signed by a per-host key that the host itself holds, so it
proves only that this host's Veil produced it. Use it to develop and test;
a production KMS policy refuses it.

The measurement is a hash of the code the enclave runs: every source file of
`veil.trusted` and the wasmtime version, as a real TEE would measure the
enclave image.
"""

from __future__ import annotations

import os
import time
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Final

from veil.trusted.crypto.digest import sha256
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.wire import signed

TEE: Final = "sim"
EVIDENCE_CONTEXT: Final = b"veil/sim-evidence/v1"
WARNING: Final = (
    "sim TEE: software simulation, no hardware protection; the host can read everything"
)


@cache
def measurement() -> bytes:
    """SHA-256 over the trusted core's sources (path and content) and the wasmtime version."""
    root = resources.files("veil.trusted")
    parts: list[bytes] = [b"veil/sim-measurement/v1", metadata.version("wasmtime").encode()]
    for path in sorted(_sources(Path(str(root)))):
        rel = path.relative_to(Path(str(root))).as_posix().encode()
        parts += [rel, sha256(path.read_bytes())]
    return sha256(*parts)


def _sources(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.py") if "__pycache__" not in p.parts]


class SimAttester:
    tee: Final = TEE

    def __init__(self, host_key: SigningKey, *, debug: bool = False) -> None:
        self._host_key = host_key
        self._debug = debug

    def evidence(self, report_data: bytes) -> bytes:
        if len(report_data) != 64:
            raise ValueError("report data is 64 bytes")
        return signed.sign_document(
            self._host_key,
            EVIDENCE_CONTEXT,
            {
                "tee": TEE,
                "measurement": measurement(),
                "report_data": report_data,
                "debug": self._debug,
                "time": int(time.time()),
            },
        )


def load_or_create_host_key(path: Path) -> SigningKey:
    """The per-host sim key, created (mode 0600) on first use."""
    if path.exists():
        return SigningKey.from_bytes(path.read_bytes())
    key = SigningKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.to_bytes())
    return key

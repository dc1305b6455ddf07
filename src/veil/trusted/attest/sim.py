"""The `sim` TEE: every protocol runs for real, but NOTHING is protected.

X

The measurement hashes what the enclave process loads, as a real TEE measures
its image: every file of `veil.trusted` (the .js prelude too) and
`veil/__init__.py` (the set the Gramine manifest trusts), and the versions of
the third-party distributions it imports.
"""

from __future__ import annotations

import time
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import Final

from veil.trusted.attest.attester import check_report_data
from veil.trusted.crypto.digest import sha256
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.wire import signed

TEE: Final = "sim"
EVIDENCE_CONTEXT: Final = b"veil/sim-evidence/v1"

DISTRIBUTIONS: Final = ("cbor2", "cffi", "cryptography", "wasmtime", "qjs-wasi-reactor.wasm")
"""The third-party distributions the enclave process imports or loads code from."""


def measured_files() -> list[Path]:
    """What the enclave process may load from Veil: `veil/__init__.py` and all of `veil/trusted`."""
    veil = Path(str(resources.files("veil")))
    trusted = [p for p in (veil / "trusted").rglob("*") if p.is_file()]
    return sorted([veil / "__init__.py", *(p for p in trusted if "__pycache__" not in p.parts)])


@cache
def measurement() -> bytes:
    """SHA-256 over the measured files (path and content) and the distributions' versions."""
    veil = Path(str(resources.files("veil")))
    parts = [
        b"veil/sim-measurement/v2",
        *(f"{d}=={metadata.version(d)}".encode() for d in DISTRIBUTIONS),
    ]
    for path in measured_files():
        parts += [path.relative_to(veil).as_posix().encode(), sha256(path.read_bytes())]
    return sha256(*parts)


class SimAttester:
    tee: Final = TEE

    def __init__(self, host_key: SigningKey, *, debug: bool = False) -> None:
        self._host_key = host_key
        self._debug = debug

    def evidence(self, report_data: bytes) -> bytes:
        data = check_report_data(report_data)
        return signed.sign_document(
            self._host_key,
            EVIDENCE_CONTEXT,
            {
                "tee": TEE,
                "measurement": measurement(),
                "report_data": data,
                "debug": self._debug,
                "time": int(time.time()),
            },
        )

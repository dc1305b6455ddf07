"""Where the real Intel and AMD samples live, and the 'now' they verify at.

They live in the repo, in `tests/vectors/evidence/` (see tests/vectors/README.md
for provenance); 2025-06-20 is inside every validity window of their
collateral (TCB info and QE identity issued 2025-06-19, next update
2025-07-19; both CRLs likewise).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache

from tests.vectors import EVIDENCE as SAMPLES
from veil.attestation.dcap.collateral import Collateral, collateral_from_json
from veil.attestation.sgx import SgxVerifier
from veil.attestation.snp import SnpVerifier
from veil.attestation.tdx import TdxVerifier

SAMPLE_NOW = datetime(2025, 6, 20, tzinfo=UTC)
INTEL_ROOT = SAMPLES / "intel_sgx_root_ca.der"


def sample_bytes(relative: str) -> bytes:
    return (SAMPLES / relative).read_bytes()


def collateral_json(kind: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((SAMPLES / kind / "collateral.json").read_text())
    return data


@cache
def sample_collateral(kind: str) -> Collateral:
    return collateral_from_json(collateral_json(kind))


def sgx_verifier(collateral: Collateral | None = None, root: bytes | None = None) -> SgxVerifier:
    return SgxVerifier(
        root_der=root or INTEL_ROOT.read_bytes(),
        collateral=collateral or sample_collateral("sgx"),
    )


def tdx_verifier(collateral: Collateral | None = None, root: bytes | None = None) -> TdxVerifier:
    return TdxVerifier(
        root_der=root or INTEL_ROOT.read_bytes(),
        collateral=collateral or sample_collateral("tdx"),
    )


def snp_report() -> bytes:
    return bytes.fromhex((SAMPLES / "snp" / "report_milan.hex").read_text())


def snp_verifier(**overrides: bytes) -> SnpVerifier:
    config = {
        "ark_pem": sample_bytes("snp/ark_milan.pem"),
        "ask_pem": sample_bytes("snp/ask_milan.pem"),
        "vcek_der": sample_bytes("snp/vcek_milan.der"),
    }
    config.update(overrides)
    return SnpVerifier(**config)

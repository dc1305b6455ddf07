"""Flip one bit anywhere in a real DCAP quote: it must fail, with the error naming the region.

Regions follow Intel's quote layout (see `veil.attestation.dcap.quote`);
offsets are sampled across each region (every byte for small regions, a
stride for the large ones, plus both ends), the bit varying with the offset.
"""

from __future__ import annotations

import pytest

from tests.attestation.evidence_samples import SAMPLE_NOW, sample_bytes, sgx_verifier, tdx_verifier
from veil.attestation.dcap.errors import (
    AttestationKeyNotBound,
    QeReportSignatureInvalid,
    UnsupportedQuote,
)
from veil.attestation.errors import (
    CertificateChainInvalid,
    EvidenceRefused,
    EvidenceSignatureInvalid,
    MalformedEvidence,
)

Region = tuple[str, int, int, tuple[type[EvidenceRefused], ...]]


def _qe_regions(start: int, pem_end: int, total: int) -> list[Region]:
    """From the QE report on: same in v3 (directly) and v4 (inside type-6 data)."""
    return [
        ("QE report", start, start + 384, (QeReportSignatureInvalid,)),
        ("QE report signature", start + 384, start + 448, (QeReportSignatureInvalid,)),
        ("QE auth data size", start + 448, start + 450, (MalformedEvidence,)),
        ("QE auth data", start + 450, start + 482, (AttestationKeyNotBound,)),
        ("certification data type and size", start + 482, start + 488, (MalformedEvidence,)),
        ("PCK chain", start + 488, pem_end, (MalformedEvidence, CertificateChainInvalid)),
        ("padding", pem_end, total, (MalformedEvidence,)),
    ]


def _header(body_end: int) -> list[Region]:
    return [
        ("version, key type, TEE type", 0, 8, (UnsupportedQuote,)),
        ("QE and PCE SVN", 8, 12, (EvidenceSignatureInvalid,)),
        ("QE vendor id", 12, 28, (UnsupportedQuote,)),
        ("user data", 28, 48, (EvidenceSignatureInvalid,)),
        ("report body", 48, body_end, (EvidenceSignatureInvalid,)),
        ("signature data size", body_end, body_end + 4, (MalformedEvidence,)),
        ("quote signature", body_end + 4, body_end + 68, (EvidenceSignatureInvalid,)),
        ("attestation key", body_end + 68, body_end + 132, (AttestationKeyNotBound,)),
    ]


SGX = sample_bytes("sgx/quote.bin")
TDX = sample_bytes("tdx/quote.bin")
SGX_REGIONS = [*_header(432), *_qe_regions(564, len(SGX), len(SGX))]
TDX_REGIONS = [
    *_header(632),
    ("QE report certification data type and size", 764, 770, (MalformedEvidence,)),
    *_qe_regions(770, 4936, len(TDX)),
]


def _offsets(start: int, end: int) -> list[int]:
    if end - start <= 64:
        return list(range(start, end))
    stride = max(1, (end - start) // 48)
    return sorted({*range(start, end, stride), *range(max(start, end - 24), end), start + 1})


def _cases(regions: list[Region]) -> list[tuple[str, int, tuple[type[EvidenceRefused], ...]]]:
    return [
        (name, off, errors) for name, start, end, errors in regions for off in _offsets(start, end)
    ]


def _flip(data: bytes, offset: int) -> bytes:
    flipped = bytearray(data)
    flipped[offset] ^= 1 << (offset % 8)
    return bytes(flipped)


def test_the_regions_cover_every_byte() -> None:
    for regions, quote in ((SGX_REGIONS, SGX), (TDX_REGIONS, TDX)):
        covered = [b for _, start, end, _ in regions for b in range(start, end)]
        assert covered == list(range(len(quote)))


@pytest.mark.parametrize(("region", "offset", "errors"), _cases(SGX_REGIONS))
def test_sgx_flip_fails_by_region(
    region: str, offset: int, errors: tuple[type[EvidenceRefused], ...]
) -> None:
    with pytest.raises(errors):
        sgx_verifier().verify(_flip(SGX, offset), now=SAMPLE_NOW)


@pytest.mark.parametrize(("region", "offset", "errors"), _cases(TDX_REGIONS))
def test_tdx_flip_fails_by_region(
    region: str, offset: int, errors: tuple[type[EvidenceRefused], ...]
) -> None:
    with pytest.raises(errors):
        tdx_verifier().verify(_flip(TDX, offset), now=SAMPLE_NOW)

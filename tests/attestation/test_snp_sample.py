"""The real SEV-SNP report (virtee/sev's Milan sample) under AMD's Milan ARK/ASK and its VCEK."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.attestation.evidence_pki import amd_pki
from tests.attestation.evidence_samples import SAMPLE_NOW, sample_bytes, snp_report, snp_verifier
from veil.attestation.errors import (
    CertificateChainInvalid,
    CertificateExpired,
    EvidenceRefused,
    EvidenceSignatureInvalid,
    MalformedEvidence,
)
from veil.attestation.snp.errors import SigningKeyUnavailable, UnsupportedReport, VcekMismatch

REPORT = snp_report()


def test_the_sample_verifies_under_the_milan_chain() -> None:
    claims = snp_verifier().verify(REPORT, now=SAMPLE_NOW)
    assert claims.tee == "snp"
    assert claims.tcb_status == "UpToDate"
    assert claims.debug is False


def test_claims_carry_measurement_report_data_host_data_and_chip_id() -> None:
    claims = snp_verifier().verify(REPORT, now=SAMPLE_NOW)
    assert claims.measurement == REPORT[0x90:0xC0].hex()
    assert claims.report_data == REPORT[0x50:0x90]
    assert claims.details["host_data"] == REPORT[0xC0:0xE0].hex()
    assert claims.details["chip_id"] == REPORT[0x1A0:0x1E0].hex()
    assert claims.details["product"] == "Milan-B0"
    assert (claims.details["snp_spl"], claims.details["microcode_spl"]) == ("8", "115")


def test_the_hex_text_and_the_binary_are_the_same_report() -> None:
    text = sample_bytes("snp/report_milan.hex").decode()
    assert bytes.fromhex(text) == REPORT


def test_a_different_pinned_ark_refuses_the_chain() -> None:
    pki = amd_pki()
    with pytest.raises(CertificateChainInvalid):
        snp_verifier(ark_pem=pki.pem(pki.ark)).verify(REPORT, now=SAMPLE_NOW)


def test_the_ask_must_be_signed_by_the_ark() -> None:
    pki = amd_pki()
    with pytest.raises(CertificateChainInvalid):
        snp_verifier(ask_pem=pki.pem(pki.ask)).verify(REPORT, now=SAMPLE_NOW)


def test_now_after_the_vcek_expires_is_refused() -> None:
    with pytest.raises(CertificateExpired):
        snp_verifier().verify(REPORT, now=datetime(2031, 1, 1, tzinfo=UTC))


def test_now_before_the_vcek_was_issued_is_refused() -> None:
    with pytest.raises(CertificateExpired):
        snp_verifier().verify(REPORT, now=datetime(2023, 1, 1, tzinfo=UTC))


def test_a_vlek_signed_report_needs_a_vlek() -> None:
    flipped = bytearray(REPORT)
    flipped[0x48] |= 1 << 2  # signing key: VLEK
    with pytest.raises(SigningKeyUnavailable):
        snp_verifier().verify(bytes(flipped), now=SAMPLE_NOW)


@pytest.mark.parametrize("length", [0, 1, 0x2A0, 0x4A0 - 1, 0x4A0 + 1])
def test_a_report_of_the_wrong_size_is_malformed(length: int) -> None:
    data = (REPORT * 2)[:length]
    with pytest.raises(MalformedEvidence):
        snp_verifier().verify(data, now=SAMPLE_NOW)


def _region_errors(offset: int) -> tuple[type[EvidenceRefused], ...]:
    """What a flip at `offset` must raise, by the report field it lands in."""
    if offset < 0x04:
        return (UnsupportedReport, EvidenceSignatureInvalid)  # version 2 → 0/3/6/...
    if 0x34 <= offset < 0x38:
        return (UnsupportedReport,)
    if 0x48 <= offset < 0x4C:
        return (SigningKeyUnavailable, EvidenceSignatureInvalid)
    if offset in (0x180, 0x181, 0x186, 0x187):  # reported TCB: BL, TEE, SNP, microcode SPLs
        return (VcekMismatch,)
    if 0x1A0 <= offset < 0x1E0:
        return (VcekMismatch,)
    if offset < 0x330:
        return (EvidenceSignatureInvalid,)
    return (MalformedEvidence,)


@pytest.mark.parametrize("offset", [*range(0, 0x330, 3), *range(0x330, 0x4A0, 17), 0x4A0 - 1])
def test_every_flipped_byte_fails_naming_its_field(offset: int) -> None:
    flipped = bytearray(REPORT)
    flipped[offset] ^= 1 << (offset % 8)
    with pytest.raises(_region_errors(offset)):
        snp_verifier().verify(bytes(flipped), now=SAMPLE_NOW)

"""SNP cases the Milan sample cannot show, signed by the test ARK/ASK/ASVK (its ARK pinned)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.attestation.evidence_pki import NOW, SnpCase, amd_pki, make_crl, snp_sample
from veil.attestation.errors import (
    CertificateChainInvalid,
    CertificateExpired,
    CertificateRevoked,
    EvidenceSignatureInvalid,
)
from veil.attestation.snp import SnpVerifier
from veil.attestation.snp.errors import SigningKeyUnavailable, VcekMismatch
from veil.attestation.snp.report import TcbVersion
from veil.attestation.verifier import Claims


def verifier(case: SnpCase, **config: object) -> tuple[SnpVerifier, bytes]:
    pki = amd_pki()
    sample = snp_sample(case)
    keys: dict[str, object] = {"ark_pem": pki.pem(pki.ark)}
    if case.vlek:
        keys |= {"asvk_pem": pki.pem(pki.asvk), "vlek_der": sample.key_der}
    else:
        keys |= {"ask_pem": pki.pem(pki.ask), "vcek_der": sample.key_der}
    return SnpVerifier(**(keys | config)), sample.report  # type: ignore[arg-type]


def verify(case: SnpCase, **config: object) -> Claims:
    snp, report = verifier(case, **config)
    return snp.verify(report, now=NOW)


def test_a_vcek_signed_report_verifies() -> None:
    claims = verify(SnpCase())
    assert (claims.tee, claims.measurement, claims.tcb_status) == ("snp", "3a" * 48, "UpToDate")
    assert claims.details["signing_key"] == "VCEK"
    assert claims.details["host_data"] == "4d" * 32


def test_a_vlek_signed_report_verifies_under_the_asvk() -> None:
    claims = verify(SnpCase(vlek=True))
    assert claims.details["signing_key"] == "VLEK"
    assert claims.details["csp_id"] == "veil-test-csp"


def test_a_vlek_must_be_signed_by_the_asvk_not_the_ask() -> None:
    pki = amd_pki()
    with pytest.raises(CertificateChainInvalid):
        verify(SnpCase(vlek=True), asvk_pem=pki.pem(pki.ask))


def test_a_vlek_report_without_a_configured_vlek_is_refused() -> None:
    snp, report = verifier(SnpCase(vlek=True))
    with pytest.raises(SigningKeyUnavailable):
        SnpVerifier(ark_pem=amd_pki().pem(amd_pki().ark)).verify(report, now=NOW)
    assert snp.verify(report, now=NOW).details["signing_key"] == "VLEK"


def test_the_vcek_can_come_from_a_lookup_by_chip_and_tcb() -> None:
    sample = snp_sample(SnpCase())
    pki = amd_pki()
    seen = []

    def lookup(report: object) -> bytes:
        seen.append(report)
        return sample.key_der

    snp = SnpVerifier(ark_pem=pki.pem(pki.ark), ask_pem=pki.pem(pki.ask), vcek_lookup=lookup)
    assert snp.verify(sample.report, now=NOW).tee == "snp"
    assert len(seen) == 1


def test_a_debug_guest_policy_is_reported_as_debug() -> None:
    assert verify(SnpCase(debug=True)).debug is True


def test_a_report_whose_tcb_differs_from_the_vceks_is_refused() -> None:
    with pytest.raises(VcekMismatch):
        verify(SnpCase(cert_tcb=(3, 0, 7, 115)))


def test_a_report_from_another_chip_is_refused() -> None:
    with pytest.raises(VcekMismatch):
        verify(SnpCase(cert_chip_id=b"\x99" * 64))


def test_a_vlek_report_is_not_bound_to_a_chip_id() -> None:
    assert verify(SnpCase(vlek=True, chip_id=bytes(64))).tee == "snp"


def test_a_report_signed_by_another_vcek_is_refused() -> None:
    snp, _ = verifier(SnpCase())
    other = snp_sample(SnpCase()).report  # same fields, another key
    with pytest.raises(EvidenceSignatureInvalid):
        snp.verify(other, now=NOW)


def test_an_expired_vcek_is_refused() -> None:
    with pytest.raises(CertificateExpired):
        verify(SnpCase(key_not_after=NOW - timedelta(days=1)))


def test_a_minimum_tcb_above_the_reported_one_is_out_of_date() -> None:
    claims = verify(SnpCase(), min_tcb=TcbVersion(bootloader=3, tee=0, snp=9, microcode=115))
    assert claims.tcb_status == "OutOfDate"
    assert verify(SnpCase(), min_tcb=TcbVersion(3, 0, 8, 115)).tcb_status == "UpToDate"


def test_an_ask_revoked_by_the_ark_crl_is_refused() -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    pki = amd_pki()
    crl = make_crl(pki.ark, pki.ark_key, (pki.ask.serial_number,))
    with pytest.raises(CertificateRevoked):
        verify(SnpCase(), crl_der=crl.public_bytes(Encoding.DER))
    clean = make_crl(pki.ark, pki.ark_key)
    assert verify(SnpCase(), crl_der=clean.public_bytes(Encoding.DER)).tee == "snp"

"""The real TDX quote (version 4, dcap-qvl's sample) against Intel's real collateral."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.attestation.evidence_pki import intel_pki
from tests.attestation.evidence_samples import (
    SAMPLE_NOW,
    collateral_json,
    sample_bytes,
    tdx_verifier,
)
from veil.attestation.dcap.collateral import collateral_from_json
from veil.attestation.dcap.errors import (
    QeIdentityMismatch,
    TcbInfoMismatch,
    TcbInfoSignatureInvalid,
    UnsupportedQuote,
)
from veil.attestation.errors import (
    CertificateChainInvalid,
    CollateralExpired,
    MalformedEvidence,
    ReportDataMismatch,
)
from veil.attestation.policy import check_claims, check_report_data

QUOTE = sample_bytes("tdx/quote.bin")
BODY = QUOTE[48 : 48 + 584]


def test_the_sample_verifies_up_to_date_without_advisories() -> None:
    claims = tdx_verifier().verify(QUOTE, now=SAMPLE_NOW)
    assert (claims.tee, claims.tcb_status, claims.advisories) == ("tdx", "UpToDate", ())
    check_claims(claims, min_tcb_status="UpToDate")


def test_claims_carry_mrtd_as_measurement_and_rtmrs_in_details() -> None:
    claims = tdx_verifier().verify(QUOTE, now=SAMPLE_NOW)
    assert claims.measurement == BODY[136:184].hex()
    assert [claims.details[f"rtmr{i}"] for i in range(4)] == [
        BODY[328 + 48 * i : 376 + 48 * i].hex() for i in range(4)
    ]
    assert claims.report_data == BODY[520:584]
    assert claims.debug is False
    assert claims.details["tdx_module_tcb_status"] == "UpToDate"
    assert claims.details["quote_version"] == "4"


def test_report_data_is_checked_by_policy_not_by_the_verifier() -> None:
    claims = tdx_verifier().verify(QUOTE, now=SAMPLE_NOW)
    check_report_data(claims, BODY[520:584])
    with pytest.raises(ReportDataMismatch):
        check_report_data(claims, bytes(64))


def test_a_different_pinned_root_refuses_the_chain() -> None:
    with pytest.raises(CertificateChainInvalid):
        tdx_verifier(root=intel_pki().root_der).verify(QUOTE, now=SAMPLE_NOW)


@pytest.mark.parametrize("days", [-2, 30, 400])
def test_now_outside_the_collateral_windows_is_expired(days: int) -> None:
    with pytest.raises(CollateralExpired):
        tdx_verifier().verify(QUOTE, now=SAMPLE_NOW + timedelta(days=days))


def test_tampered_tcb_info_breaks_its_signature() -> None:
    raw = collateral_json("tdx")
    tampered = raw["tcb_info"].replace('"pcesvn":11', '"pcesvn":10', 1)
    assert tampered != raw["tcb_info"]
    with pytest.raises(TcbInfoSignatureInvalid):
        tdx_verifier(collateral_from_json(raw | {"tcb_info": tampered})).verify(
            QUOTE, now=SAMPLE_NOW
        )


def test_the_sgx_quoting_enclaves_identity_is_the_wrong_qe_identity() -> None:
    sgx = collateral_json("sgx")
    keys = ("qe_identity", "qe_identity_signature", "qe_identity_issuer_chain")
    mixed = collateral_json("tdx") | {k: sgx[k] for k in keys}
    with pytest.raises(QeIdentityMismatch):
        tdx_verifier(collateral_from_json(mixed)).verify(QUOTE, now=SAMPLE_NOW)


def test_sgx_tcb_info_is_refused_for_a_td() -> None:
    sgx = collateral_json("sgx")
    keys = ("tcb_info", "tcb_info_signature", "tcb_info_issuer_chain")
    mixed = collateral_json("tdx") | {k: sgx[k] for k in keys}
    with pytest.raises(TcbInfoMismatch):
        tdx_verifier(collateral_from_json(mixed)).verify(QUOTE, now=SAMPLE_NOW)


def test_an_sgx_quote_is_not_a_tdx_quote() -> None:
    with pytest.raises(UnsupportedQuote):
        tdx_verifier().verify(sample_bytes("sgx/quote.bin"), now=SAMPLE_NOW)


def test_only_zero_padding_may_follow_the_quote() -> None:
    assert tdx_verifier().verify(QUOTE + bytes(16), now=SAMPLE_NOW).tee == "tdx"
    with pytest.raises(MalformedEvidence):
        tdx_verifier().verify(QUOTE + b"\x01", now=SAMPLE_NOW)

"""The real SGX DCAP quote (dcap-qvl's sample) against Intel's real collateral."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.attestation.evidence_samples import (
    SAMPLE_NOW,
    collateral_json,
    sample_bytes,
    sample_collateral,
    sgx_verifier,
    tdx_verifier,
)
from veil.attestation.dcap.collateral import collateral_from_json
from veil.attestation.dcap.errors import (
    QeIdentityMismatch,
    QeIdentitySignatureInvalid,
    TcbInfoMismatch,
    TcbInfoSignatureInvalid,
    UnsupportedQuote,
)
from veil.attestation.errors import (
    CertificateChainInvalid,
    CollateralExpired,
    CrlInvalid,
)

QUOTE = sample_bytes("sgx/quote.bin")


def test_the_sample_verifies_with_intels_verdict() -> None:
    claims = sgx_verifier().verify(QUOTE, now=SAMPLE_NOW)
    assert claims.tee == "sgx"
    assert claims.tcb_status == "ConfigurationAndSWHardeningNeeded"
    assert claims.advisories == ("INTEL-SA-00289", "INTEL-SA-00615")


def test_claims_carry_mrenclave_as_measurement_and_the_rest_as_details() -> None:
    claims = sgx_verifier().verify(QUOTE, now=SAMPLE_NOW)
    assert claims.measurement == QUOTE[48 + 64 : 48 + 96].hex()
    assert claims.details["mr_signer"] == QUOTE[48 + 128 : 48 + 160].hex()
    assert claims.report_data == QUOTE[48 + 320 : 48 + 384]
    assert claims.report_data.startswith(b"Hello, world!")
    assert claims.debug is False
    assert claims.details["fmspc"] == "00a067110000"
    assert claims.details["qe_tcb_status"] == "UpToDate"


def test_a_different_pinned_root_refuses_the_chain() -> None:
    from tests.attestation.evidence_pki import intel_pki

    with pytest.raises(CertificateChainInvalid):
        sgx_verifier(root=intel_pki().root_der).verify(QUOTE, now=SAMPLE_NOW)


@pytest.mark.parametrize(
    "now",
    [
        SAMPLE_NOW.replace(month=6, day=19, hour=10),  # before the TCB info issueDate
        SAMPLE_NOW + timedelta(days=30),  # after every nextUpdate
        SAMPLE_NOW.replace(year=2019),
    ],
)
def test_now_outside_the_collateral_windows_is_expired(now: object) -> None:
    with pytest.raises(CollateralExpired):
        sgx_verifier().verify(QUOTE, now=now)  # type: ignore[arg-type]


def test_tampered_tcb_info_text_breaks_its_signature() -> None:
    raw = collateral_json("sgx")
    tampered = raw["tcb_info"].replace(
        '"tcbStatus":"ConfigurationAndSWHardeningNeeded"', '"tcbStatus":"UpToDate"'
    )
    assert tampered != raw["tcb_info"]
    with pytest.raises(TcbInfoSignatureInvalid):
        sgx_verifier(collateral_from_json(raw | {"tcb_info": tampered})).verify(
            QUOTE, now=SAMPLE_NOW
        )


def test_reformatted_tcb_info_is_not_the_signed_text() -> None:
    raw = collateral_json("sgx")
    reformatted = json.dumps(json.loads(raw["tcb_info"]), indent=1)
    with pytest.raises(TcbInfoSignatureInvalid):
        sgx_verifier(collateral_from_json(raw | {"tcb_info": reformatted})).verify(
            QUOTE, now=SAMPLE_NOW
        )


def test_tampered_qe_identity_text_breaks_its_signature() -> None:
    raw = collateral_json("sgx")
    tampered = raw["qe_identity"].replace('"isvprodid":1', '"isvprodid":2')
    with pytest.raises(QeIdentitySignatureInvalid):
        sgx_verifier(collateral_from_json(raw | {"qe_identity": tampered})).verify(
            QUOTE, now=SAMPLE_NOW
        )


def test_the_td_quoting_enclaves_identity_is_the_wrong_qe_identity() -> None:
    tdx = collateral_json("tdx")
    mixed = collateral_json("sgx") | {
        k: tdx[k] for k in ("qe_identity", "qe_identity_signature", "qe_identity_issuer_chain")
    }
    with pytest.raises(QeIdentityMismatch):
        sgx_verifier(collateral_from_json(mixed)).verify(QUOTE, now=SAMPLE_NOW)


def test_tcb_info_for_another_fmspc_is_refused() -> None:
    tdx = collateral_json("tdx")
    sgx = collateral_json("sgx")
    # Intel-signed TCB info, but for the TDX platform's FMSPC and TEE kind.
    mixed = sgx | {k: tdx[k] for k in ("tcb_info", "tcb_info_signature", "tcb_info_issuer_chain")}
    with pytest.raises(TcbInfoMismatch):
        sgx_verifier(collateral_from_json(mixed)).verify(QUOTE, now=SAMPLE_NOW)


def test_a_pck_crl_from_the_other_pck_ca_is_refused() -> None:
    tdx = collateral_json("tdx")  # its PCK CRL is the Platform CA's; this PCK is the Processor CA's
    mixed = collateral_json("sgx") | {k: tdx[k] for k in ("pck_crl", "pck_crl_issuer_chain")}
    with pytest.raises(CrlInvalid):
        sgx_verifier(collateral_from_json(mixed)).verify(QUOTE, now=SAMPLE_NOW)


def test_a_tdx_quote_is_not_an_sgx_quote() -> None:
    with pytest.raises(UnsupportedQuote):
        sgx_verifier().verify(sample_bytes("tdx/quote.bin"), now=SAMPLE_NOW)


def test_collateral_is_parsed_once_and_reused() -> None:
    assert sample_collateral("sgx") is sample_collateral("sgx")
    verifier = tdx_verifier()
    assert verifier.verify(sample_bytes("tdx/quote.bin"), now=SAMPLE_NOW).tcb_status == "UpToDate"


def test_the_samples_report_data_passes_policy_only_for_its_own_value() -> None:
    from veil.attestation.errors import ReportDataMismatch
    from veil.attestation.policy import check_report_data

    claims = sgx_verifier().verify(QUOTE, now=SAMPLE_NOW)
    check_report_data(claims, b"Hello, world!")
    with pytest.raises(ReportDataMismatch):
        check_report_data(claims, b"Hello, world?")


def test_policy_refuses_the_sample_below_a_stricter_minimum_or_for_its_advisories() -> None:
    from veil.attestation.errors import TcbStatusRefused
    from veil.attestation.policy import check_claims

    claims = sgx_verifier().verify(QUOTE, now=SAMPLE_NOW)
    check_claims(claims, min_tcb_status="ConfigurationAndSWHardeningNeeded")
    with pytest.raises(TcbStatusRefused):
        check_claims(claims, min_tcb_status="UpToDate")
    with pytest.raises(TcbStatusRefused):
        check_claims(claims, min_tcb_status="OutOfDate", forbidden_advisories=["INTEL-SA-00615"])

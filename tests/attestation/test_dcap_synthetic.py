"""What the real samples cannot show, on quotes signed by the test PKI (its root pinned).

Every TCB status, a revoked PCK (and PCK CA), QE identity mismatches, debug
enclaves and TDs, TDX quote version 5 with a TD 1.5 body, TDX module
identities, and certificates outside their validity.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from tests.attestation.evidence_pki import (
    NOW,
    SGX_COMPONENTS,
    DcapCase,
    dcap_sample,
    intel_pki,
    make_crl,
    p256,
    resign_qe_identity,
    resign_tcb_info,
    tcb_level,
)
from veil.attestation.dcap.collateral import collateral_from_json
from veil.attestation.dcap.errors import (
    PckExtensionsInvalid,
    QeIdentityMismatch,
    TcbLevelNotFound,
    TdxModuleMismatch,
)
from veil.attestation.errors import (
    CertificateExpired,
    CertificateRevoked,
    CollateralExpired,
    CrlInvalid,
)
from veil.attestation.sgx import SgxVerifier
from veil.attestation.tdx import TdxVerifier
from veil.attestation.verifier import TCB_STATUSES, Claims

SGX = DcapCase()
TDX = DcapCase(kind="tdx", version=4)


def verify(case: DcapCase, collateral: dict[str, str] | None = None, **changes: object) -> Claims:
    sample = dcap_sample(case)
    verifier_class = TdxVerifier if case.kind == "tdx" else SgxVerifier
    verifier = verifier_class(
        root_der=intel_pki().root_der,
        collateral=collateral_from_json(collateral or sample.collateral),
    )
    return verifier.verify(sample.quote, now=changes.get("now", NOW))  # type: ignore[arg-type]


def test_the_default_synthetic_sgx_quote_is_up_to_date() -> None:
    claims = verify(SGX)
    assert (claims.tee, claims.tcb_status, claims.advisories) == ("sgx", "UpToDate", ())
    assert claims.measurement == "e1" * 32


@pytest.mark.parametrize("status", TCB_STATUSES)
def test_each_tcb_status_comes_from_the_first_level_the_platform_meets(status: str) -> None:
    higher = tuple(v + 1 for v in SGX_COMPONENTS)
    levels = (
        tcb_level("UpToDate", sgx=higher, advisories=("INTEL-SA-99999",)),  # not met
        tcb_level(status, advisories=("INTEL-SA-00001", "INTEL-SA-00002")),  # met
        tcb_level("OutOfDate", sgx=(0,) * 16, pce_svn=0),
    )
    claims = verify(SGX.but(tcb_levels=levels))
    assert claims.tcb_status == status
    assert claims.advisories == ("INTEL-SA-00001", "INTEL-SA-00002")


def test_a_lower_pce_svn_than_a_level_skips_that_level() -> None:
    levels = (tcb_level("UpToDate", pce_svn=14), tcb_level("OutOfDate", pce_svn=13))
    assert verify(SGX.but(tcb_levels=levels)).tcb_status == "OutOfDate"


def test_a_platform_below_every_level_is_not_supported() -> None:
    levels = (tcb_level("UpToDate", sgx=tuple(v + 1 for v in SGX_COMPONENTS)),)
    with pytest.raises(TcbLevelNotFound):
        verify(SGX.but(tcb_levels=levels))


@pytest.mark.parametrize(
    ("platform", "qe", "expected"),
    [
        ("UpToDate", "OutOfDate", "OutOfDate"),
        ("SWHardeningNeeded", "OutOfDate", "OutOfDate"),
        ("ConfigurationNeeded", "OutOfDate", "OutOfDateConfigurationNeeded"),
        ("ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded"),
        ("UpToDate", "Revoked", "Revoked"),
        ("SWHardeningNeeded", "UpToDate", "SWHardeningNeeded"),
    ],
)
def test_an_out_of_date_quoting_enclave_lowers_the_platform_status(
    platform: str, qe: str, expected: str
) -> None:
    case = SGX.but(
        tcb_levels=(tcb_level(platform, advisories=("INTEL-SA-00010",)),),
        qe_isv_svn=6,
        qe_levels=((8, "UpToDate", ()), (6, qe, ("INTEL-SA-00020",))),
    )
    claims = verify(case)
    assert claims.tcb_status == expected
    assert claims.advisories == ("INTEL-SA-00010", "INTEL-SA-00020")
    assert claims.details["qe_tcb_status"] == qe


def test_a_quoting_enclave_below_every_qe_level_is_not_supported() -> None:
    with pytest.raises(TcbLevelNotFound):
        verify(SGX.but(qe_isv_svn=3))


def test_a_revoked_pck_certificate_is_refused() -> None:
    with pytest.raises(CertificateRevoked):
        verify(SGX.but(revoke_pck=True))


def test_a_revoked_pck_ca_is_refused() -> None:
    with pytest.raises(CertificateRevoked):
        verify(SGX.but(revoke_pck_ca=True))


def test_an_expired_pck_certificate_is_refused() -> None:
    with pytest.raises(CertificateExpired):
        verify(SGX.but(pck_not_after=NOW - timedelta(days=1)))


def test_expired_tcb_info_and_qe_identity_are_refused() -> None:
    case = SGX.but(collateral_next=NOW - timedelta(hours=1))
    with pytest.raises(CollateralExpired):
        verify(case)


def test_a_quoting_enclave_from_another_signer_is_refused() -> None:
    with pytest.raises(QeIdentityMismatch):
        verify(SGX.but(qe_mrsigner=b"\x66" * 32))


def test_a_quoting_enclave_with_another_product_id_is_refused() -> None:
    with pytest.raises(QeIdentityMismatch):
        verify(SGX.but(qe_prod_id=9))


def test_a_debug_quoting_enclave_fails_the_attributes_mask() -> None:
    debug_qe = bytes([0x13]) + bytes(15)  # DEBUG bit set: masked in, so it must match (clear)
    with pytest.raises(QeIdentityMismatch):
        verify(SGX.but(qe_attributes=debug_qe))


def test_a_qe_identity_resigned_with_another_mrsigner_is_refused() -> None:
    sample = dcap_sample(SGX)
    identity = json.loads(sample.collateral["qe_identity"])
    identity["mrsigner"] = "AB" * 32
    collateral = resign_qe_identity(sample.collateral, json.dumps(identity))
    with pytest.raises(QeIdentityMismatch):
        verify(SGX, collateral)


def test_tcb_info_without_the_platforms_level_changes_the_verdict_only_when_signed() -> None:
    sample = dcap_sample(SGX)
    info = json.loads(sample.collateral["tcb_info"])
    info["tcbLevels"] = info["tcbLevels"][1:]
    assert verify(SGX, resign_tcb_info(sample.collateral, json.dumps(info))).tcb_status == (
        "OutOfDate"
    )


def test_a_debug_enclave_is_reported_as_debug() -> None:
    assert verify(SGX.but(debug=True)).debug is True
    assert verify(SGX).debug is False


def test_a_pck_certificate_without_sgx_extensions_is_refused() -> None:
    from veil.attestation.dcap.pck import pck_extensions

    with pytest.raises(PckExtensionsInvalid):
        pck_extensions(intel_pki().pck_ca)


def test_a_synthetic_tdx_v4_quote_is_up_to_date() -> None:
    claims = verify(TDX)
    assert (claims.tee, claims.tcb_status, claims.measurement) == ("tdx", "UpToDate", "7d" * 48)
    assert claims.details["rtmr2"] == "a2" * 48


def test_a_tdx_v5_quote_with_a_td15_body_verifies_and_names_mrservicetd() -> None:
    claims = verify(TDX.but(version=5, td15=True))
    assert claims.details["quote_version"] == "5"
    assert claims.details["mr_service_td"] == "5d" * 48


def test_a_tdx_v5_quote_with_a_td10_body_verifies() -> None:
    assert verify(TDX.but(version=5)).tcb_status == "UpToDate"


def test_a_debug_td_is_reported_as_debug() -> None:
    assert verify(TDX.but(debug=True)).debug is True


def test_an_old_tdx_module_makes_the_platform_out_of_date() -> None:
    old_module = bytes([3, 1, 3]) + bytes(13)  # module SVN 3 < 4, major version 1
    claims = verify(TDX.but(tee_tcb_svn=old_module))
    assert claims.tcb_status == "OutOfDate"
    assert claims.details["tdx_module_tcb_status"] == "OutOfDate"


def test_tee_tcb_svn_below_a_tdx_level_falls_to_the_next_level() -> None:
    claims = verify(TDX.but(tee_tcb_svn=bytes([4, 1, 2]) + bytes(13)))  # component 2: 2 < 3
    assert claims.tcb_status == "OutOfDate"


def test_tee_tcb_svn_below_every_tdx_level_is_not_supported() -> None:
    only_first = (TDX.tcb_levels[0],)
    with pytest.raises(TcbLevelNotFound):
        verify(TDX.but(tee_tcb_svn=bytes([4, 1, 2]) + bytes(13), tcb_levels=only_first))


def test_a_tdx_module_from_another_signer_is_refused() -> None:
    with pytest.raises(TdxModuleMismatch):
        verify(TDX.but(module_mrsigner=b"\x01" * 48))


def test_an_unknown_tdx_module_major_version_is_refused() -> None:
    with pytest.raises(TdxModuleMismatch):
        verify(TDX.but(tee_tcb_svn=bytes([4, 7, 3]) + bytes(13)))


def _pck_crl(**window: datetime) -> str:
    pki = intel_pki()
    crl = make_crl(pki.pck_ca, pki.pck_ca_key, **window)  # type: ignore[arg-type]
    return crl.public_bytes(Encoding.DER).hex()


def test_a_pck_crl_past_its_next_update_is_expired() -> None:
    sample = dcap_sample(SGX)
    stale = sample.collateral | {"pck_crl": _pck_crl(next_update=NOW - timedelta(hours=1))}
    with pytest.raises(CollateralExpired):
        verify(SGX, stale)


def test_a_pck_crl_not_signed_by_the_pck_ca_is_refused() -> None:
    pki = intel_pki()
    forged = make_crl(pki.pck_ca, p256())  # right issuer name, wrong key
    sample = dcap_sample(SGX)
    collateral = sample.collateral | {"pck_crl": forged.public_bytes(Encoding.DER).hex()}
    with pytest.raises(CrlInvalid):
        verify(SGX, collateral)


def test_a_root_ca_crl_not_signed_by_the_root_is_refused() -> None:
    pki = intel_pki()
    forged = make_crl(pki.root, p256())
    sample = dcap_sample(SGX)
    collateral = sample.collateral | {"root_ca_crl": forged.public_bytes(Encoding.DER).hex()}
    with pytest.raises(CrlInvalid):
        verify(SGX, collateral)


def test_a_debug_enclave_is_refused_by_policy_unless_allowed() -> None:
    from veil.attestation.errors import DebugRefused
    from veil.attestation.policy import check_claims

    claims = verify(SGX.but(debug=True))
    with pytest.raises(DebugRefused):
        check_claims(claims, min_tcb_status="UpToDate")
    check_claims(claims, min_tcb_status="UpToDate", allow_debug=True)

"""Policy on verified claims: minimum TCB status, forbidden advisories, debug, report data."""

from __future__ import annotations

import pytest

from veil.attestation.errors import DebugRefused, ReportDataMismatch, TcbStatusRefused
from veil.attestation.policy import check_claims, check_report_data
from veil.attestation.verifier import TCB_STATUSES, Claims


def claims(
    status: str = "UpToDate", *, debug: bool = False, advisories: tuple[str, ...] = ()
) -> Claims:
    return Claims(
        tee="sgx",
        measurement="00" * 32,
        report_data=b"\x01" * 32 + bytes(32),
        debug=debug,
        tcb_status=status,
        advisories=advisories,
    )


@pytest.mark.parametrize("status", TCB_STATUSES[:4])
def test_statuses_at_or_above_the_minimum_pass(status: str) -> None:
    check_claims(claims(status), min_tcb_status="ConfigurationAndSWHardeningNeeded")


@pytest.mark.parametrize("status", ["OutOfDate", "OutOfDateConfigurationNeeded"])
def test_statuses_below_the_minimum_are_refused(status: str) -> None:
    with pytest.raises(TcbStatusRefused):
        check_claims(claims(status), min_tcb_status="SWHardeningNeeded")


def test_revoked_is_refused_even_with_the_lowest_minimum() -> None:
    with pytest.raises(TcbStatusRefused):
        check_claims(claims("Revoked"), min_tcb_status="Revoked")


def test_a_forbidden_advisory_is_refused() -> None:
    listed = claims("SWHardeningNeeded", advisories=("INTEL-SA-00615", "INTEL-SA-00289"))
    check_claims(listed, min_tcb_status="OutOfDate", forbidden_advisories=["INTEL-SA-00334"])
    with pytest.raises(TcbStatusRefused, match="INTEL-SA-00615"):
        check_claims(listed, min_tcb_status="OutOfDate", forbidden_advisories=["INTEL-SA-00615"])


def test_debug_is_refused_unless_allowed() -> None:
    with pytest.raises(DebugRefused):
        check_claims(claims(debug=True), min_tcb_status="UpToDate")
    check_claims(claims(debug=True), min_tcb_status="UpToDate", allow_debug=True)


def test_an_unknown_minimum_is_caller_misuse() -> None:
    with pytest.raises(ValueError):
        check_claims(claims(), min_tcb_status="Fine")


def test_report_data_must_bind_the_expected_value() -> None:
    check_report_data(claims(), b"\x01" * 32)
    check_report_data(claims(), b"\x01" * 32 + bytes(32))
    with pytest.raises(ReportDataMismatch):
        check_report_data(claims(), b"\x02" * 32)
    with pytest.raises(ReportDataMismatch):
        check_report_data(claims(), b"\x01" * 33)

"""What a verified platform must also satisfy: TCB status, advisories, debug, report data.

Verifiers say what evidence proves; this module decides whether that is
good enough, the same way for every TEE type. The KMS calls `check_claims`
with a function's policy before releasing keys, and `check_report_data`
with the hash of the keys and nonce it expects the enclave to have bound.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from veil.attestation.errors import DebugRefused, ReportDataMismatch, TcbStatusRefused
from veil.attestation.verifier import TCB_STATUSES, Claims


def check_claims(
    claims: Claims,
    *,
    min_tcb_status: str,
    forbidden_advisories: Iterable[str] = (),
    allow_debug: bool = False,
) -> None:
    """Refuse claims below `min_tcb_status`, naming a forbidden advisory, or from a debug TEE.

    Statuses are ranked in `TCB_STATUSES` order (best first); `Revoked` is
    refused whatever the minimum. An unknown `min_tcb_status` is caller
    misuse (ValueError).
    """
    if min_tcb_status not in TCB_STATUSES:
        raise ValueError(f"unknown TCB status {min_tcb_status!r}; one of {TCB_STATUSES}")
    if claims.debug and not allow_debug:
        raise DebugRefused(f"{claims.tee} evidence comes from a debuggable TEE")
    if claims.tcb_status not in TCB_STATUSES or claims.tcb_status == "Revoked":
        raise TcbStatusRefused(f"TCB status {claims.tcb_status!r} is never accepted")
    if TCB_STATUSES.index(claims.tcb_status) > TCB_STATUSES.index(min_tcb_status):
        raise TcbStatusRefused(
            f"TCB status {claims.tcb_status} is below the required {min_tcb_status}"
        )
    hit = sorted(set(claims.advisories) & set(forbidden_advisories))
    if hit:
        raise TcbStatusRefused(f"platform is affected by forbidden advisories {', '.join(hit)}")


def check_report_data(claims: Claims, expected: bytes) -> None:
    """Refuse unless the report data is exactly `expected` (a 64-byte value, or a shorter
    prefix such as a 32-byte hash followed by zero padding in the evidence)."""
    if not 0 < len(expected) <= 64:
        raise ValueError("expected report data is 1 to 64 bytes")
    padded = expected + bytes(64 - len(expected))
    if len(claims.report_data) != 64 or not hmac.compare_digest(claims.report_data, padded):
        raise ReportDataMismatch("report data does not bind the expected keys and nonce")

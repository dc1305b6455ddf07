"""What a verified platform must also satisfy: a function's TEE policy, TCB status, report data.

Verifiers say what evidence proves; this module decides whether that is
good enough, the same way for every TEE type. `Policy` is what a tenant
signs into a function's registration and the KMS checks against an
attestation result before releasing keys; `check_claims` and
`check_report_data` check verified claims directly.

`allow_sim` is off unless the tenant turns it on, and a KMS in production
mode refuses any policy that turns it on: sim evidence proves nothing about
hardware. A policy that accepts sim carries a loud warning wherever it is
shown.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from veil.attestation.errors import DebugRefused, ReportDataMismatch, TcbStatusRefused
from veil.attestation.result import AttestationResult
from veil.attestation.sim import WARNING as SIM_WARNING
from veil.attestation.verifier import TCB_STATUSES, Claims
from veil.trusted.crypto.digest import sha256
from veil.trusted.errors import MalformedMessage, Refused
from veil.trusted.wire import cbor


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


class PolicyRefused(Refused):
    """An attested enclave that this function's policy does not accept."""


@dataclass(frozen=True)
class Policy:
    tee_types: tuple[str, ...] = ("sgx", "tdx", "snp")
    measurements: tuple[str, ...] = ()
    """Accepted measurements (hex); empty means any measurement the verifier accepted."""
    min_tcb_status: str = "UpToDate"
    forbidden_advisories: tuple[str, ...] = ()
    allow_sim: bool = False
    allow_debug: bool = False

    def __post_init__(self) -> None:
        if self.min_tcb_status not in TCB_STATUSES:
            raise MalformedMessage(f"unknown TCB status {self.min_tcb_status!r}")
        if "sim" in self.tee_types and not self.allow_sim:
            raise MalformedMessage("policy names the sim TEE but does not set allow_sim")

    @classmethod
    def development(cls, measurements: tuple[str, ...] = ()) -> Policy:
        """Accepts the sim TEE: for local development only."""
        return cls(tee_types=("sim",), measurements=measurements, allow_sim=True)

    def warnings(self) -> list[str]:
        return [f"policy accepts the {SIM_WARNING}"] if self.allow_sim else []

    def to_obj(self) -> dict[str, Any]:
        return {
            "tee_types": list(self.tee_types),
            "measurements": list(self.measurements),
            "min_tcb_status": self.min_tcb_status,
            "forbidden_advisories": list(self.forbidden_advisories),
            "allow_sim": self.allow_sim,
            "allow_debug": self.allow_debug,
        }

    @classmethod
    def from_obj(cls, obj: object) -> Policy:
        m = cbor.check_map(
            obj,
            {
                "tee_types": list,
                "measurements": list,
                "min_tcb_status": str,
                "forbidden_advisories": list,
                "allow_sim": bool,
                "allow_debug": bool,
            },
        )
        for key in ("tee_types", "measurements", "forbidden_advisories"):
            if not all(isinstance(x, str) for x in m[key]):
                raise MalformedMessage(f"policy {key} must be strings")
        return cls(
            tuple(m["tee_types"]),
            tuple(m["measurements"]),
            m["min_tcb_status"],
            tuple(m["forbidden_advisories"]),
            m["allow_sim"],
            m["allow_debug"],
        )

    def digest(self) -> bytes:
        return sha256(b"veil/policy/v1\x00", cbor.encode(self.to_obj()))

    def check(self, result: AttestationResult) -> None:
        """Refuse an attested enclave this policy does not accept."""
        if result.tee not in self.tee_types:
            raise PolicyRefused(f"TEE type {result.tee!r} is not accepted")
        if result.tee == "sim" and not self.allow_sim:
            raise PolicyRefused("the sim TEE is not accepted")
        if self.measurements and result.measurement not in self.measurements:
            raise PolicyRefused("measurement is not accepted")
        if result.debug and not self.allow_debug:
            raise PolicyRefused("debug enclaves are not accepted")
        if result.tcb_status not in TCB_STATUSES or TCB_STATUSES.index(
            result.tcb_status
        ) > TCB_STATUSES.index(self.min_tcb_status):
            raise PolicyRefused(f"TCB status {result.tcb_status!r} is below the minimum")
        if set(result.advisories) & set(self.forbidden_advisories):
            raise PolicyRefused("platform is affected by a forbidden advisory")

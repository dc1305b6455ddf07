"""A function's TEE policy: which attested enclaves may receive its keys.

`allow_sim` is off unless the tenant turns it on, and a KMS in production
mode refuses any policy that turns it on: sim evidence proves nothing about
hardware. A policy that accepts sim carries a loud warning wherever it is
shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from veil.attestation.result import AttestationResult
from veil.attestation.verifier import TCB_STATUSES
from veil.trusted.attest.sim import WARNING as SIM_WARNING
from veil.trusted.crypto.digest import sha256
from veil.trusted.errors import MalformedMessage, Refused
from veil.trusted.wire import cbor


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

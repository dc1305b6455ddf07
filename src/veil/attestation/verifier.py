"""The one interface every TEE verifier implements, and the claims it yields.

A verifier checks that evidence is genuine (signatures, certificate chains,
collateral, TCB level) and extracts `Claims` in one common shape. It does
not decide whether the claims are acceptable: that is `policy`, applied to
the claims of any TEE type alike. The report data check (evidence binds the
enclave's keys and the verifier's nonce) is done by the attestation service
for every type, so a verifier never needs to know what the report data means.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

TCB_STATUSES: tuple[str, ...] = (
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
    "Revoked",
)
"""Intel's TCB statuses, best first; other TEE types map onto the same scale."""


@dataclass(frozen=True)
class Claims:
    """What verified evidence says, in the same shape for every TEE type.

    `measurement` is the single value policies pin (MRENCLAVE, MRTD, SNP
    MEASUREMENT, the sim code hash), hex-encoded; `details` holds the rest
    (MRSIGNER, ISV ids, RTMRs, HOST_DATA, chip id ...), hex or text.
    """

    tee: str
    measurement: str
    report_data: bytes
    debug: bool
    tcb_status: str
    advisories: tuple[str, ...] = ()
    details: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "tee": self.tee,
            "measurement": self.measurement,
            "report_data": self.report_data.hex(),
            "debug": self.debug,
            "tcb_status": self.tcb_status,
            "advisories": list(self.advisories),
            "details": dict(self.details),
        }


@runtime_checkable
class Verifier(Protocol):
    """Checks one TEE type's evidence; raises an `EvidenceRefused` subclass on any failure."""

    @property
    def tee(self) -> str:
        """The TEE type this verifier checks (read-only: plug-ins declare it `Final`)."""
        ...

    def verify(self, evidence: bytes, *, now: datetime) -> Claims: ...

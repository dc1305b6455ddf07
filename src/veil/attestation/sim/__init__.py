"""Verifier for `sim` evidence: a signature by a pinned per-host sim key.

Verifying sim evidence proves that a Veil host holding that key produced
it, nothing about hardware. The claims say so in `details["protection"]`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from veil.attestation.errors import EvidenceRefused, EvidenceSignatureInvalid, MalformedEvidence
from veil.attestation.verifier import Claims
from veil.trusted.attest.sim import EVIDENCE_CONTEXT, TEE, WARNING
from veil.trusted.crypto.signing import VerifyKey
from veil.trusted.errors import BadSignature, MalformedMessage
from veil.trusted.wire import cbor, signed

MAX_EVIDENCE: Final = 4096
MAX_AGE_S: Final = 300


class EvidenceStale(EvidenceRefused):
    """Sim evidence older than the verifier accepts (or dated in the future)."""


class SimVerifier:
    tee: Final = TEE

    def __init__(self, host_keys: Iterable[VerifyKey], max_age_s: int = MAX_AGE_S) -> None:
        self._host_keys = list(host_keys)
        self._max_age_s = max_age_s

    def verify(self, evidence: bytes, *, now: datetime) -> Claims:
        try:
            body, sig = signed.split_document(evidence, limit=MAX_EVIDENCE)
            fields = cbor.decode_map(
                body,
                limit=MAX_EVIDENCE,
                fields={
                    "tee": str,
                    "measurement": bytes,
                    "report_data": bytes,
                    "debug": bool,
                    "time": int,
                },
            )
        except MalformedMessage as exc:
            raise MalformedEvidence(f"sim evidence does not parse: {exc}") from None
        if not any(_signed_by(key, body, sig) for key in self._host_keys):
            raise EvidenceSignatureInvalid("sim evidence is not signed by a trusted sim host key")
        if fields["tee"] != TEE or len(fields["report_data"]) != 64:
            raise MalformedEvidence("not sim evidence")
        age = now.timestamp() - fields["time"]
        if not -30 <= age <= self._max_age_s:
            raise EvidenceStale("sim evidence is stale or from the future")
        return Claims(
            tee=TEE,
            measurement=fields["measurement"].hex(),
            report_data=fields["report_data"],
            debug=fields["debug"],
            tcb_status="UpToDate",
            details={"protection": WARNING},
        )


def _signed_by(key: VerifyKey, body: bytes, sig: bytes) -> bool:
    try:
        key.verify(EVIDENCE_CONTEXT, body, sig)
    except BadSignature:
        return False
    return True

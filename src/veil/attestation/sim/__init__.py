"""Verifier for `sim` evidence: a signature by a pinned per-host sim key.

Verifying sim evidence proves that a Veil host holding that key produced
it, nothing about hardware. The claims say so in `details["protection"]`.
The host makes the key (`load_or_create_host_key`) and hands its file to
each sim enclave; the enclave only reads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Final

from veil.attestation.errors import EvidenceRefused, EvidenceSignatureInvalid, MalformedEvidence
from veil.attestation.verifier import Claims
from veil.trusted.attest.sim import EVIDENCE_CONTEXT, TEE
from veil.trusted.crypto.signing import SigningKey, VerifyKey
from veil.trusted.errors import BadSignature, MalformedMessage
from veil.trusted.wire import cbor, signed

MAX_EVIDENCE: Final = 4096
MAX_AGE_S: Final = 300
WARNING: Final = (
    "sim TEE: software simulation, no hardware protection; the host can read everything"
)


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


def load_or_create_host_key(path: Path) -> SigningKey:
    """The per-host sim key, created (mode 0600) on first use."""
    if path.exists():
        return SigningKey.from_bytes(path.read_bytes())
    key = SigningKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.to_bytes())
    return key

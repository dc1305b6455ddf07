"""The attestation service: nonces, evidence appraisal, attestation results.

Flow: `challenge()` hands out a single-use nonce; the enclave binds it with
its keys into report data; `attest()` checks the evidence with the TEE's
verifier, that the nonce was issued and is unused, that the report data is
exactly the binding's, and that the measurement is a reference value; then
it signs an `AttestationResult`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from veil.attestation.errors import (
    DebugRefused,
    MeasurementMismatch,
    ReportDataMismatch,
    UnknownTeeType,
)
from veil.attestation.nonces import NonceStore
from veil.attestation.result import AttestationResult, issue_token, parse_binding
from veil.attestation.verifier import Verifier
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.wire.binding import NONCE_SIZE

TOKEN_TTL_S = 3600


@dataclass
class ReferenceValues:
    """Accepted measurements per TEE type (hex). An empty set accepts nothing."""

    measurements: dict[str, set[str]] = field(default_factory=dict)
    allow_debug: bool = False

    def check(self, tee: str, measurement: str, debug: bool) -> None:
        if measurement not in self.measurements.get(tee, set()):
            raise MeasurementMismatch(f"measurement {measurement[:16]}… is not a reference value")
        if debug and not self.allow_debug:
            raise DebugRefused("debug enclaves are not accepted")


class AttestationService:
    def __init__(
        self,
        key: SigningKey,
        verifiers: Mapping[str, Verifier],
        reference: ReferenceValues,
        *,
        token_ttl_s: int = TOKEN_TTL_S,
        clock: Callable[[], float] = time.time,
        nonces: NonceStore | None = None,
    ) -> None:
        self.key = key
        self._verifiers = dict(verifiers)
        self._reference = reference
        self._token_ttl_s = token_ttl_s
        self._clock = clock
        self.nonces = nonces or NonceStore(clock=clock)

    def challenge(self) -> bytes:
        nonce = os.urandom(NONCE_SIZE)
        self.nonces.issue(nonce)
        return nonce

    def attest(self, tee: str, evidence: bytes, binding: bytes, nonce: bytes) -> str:
        """Appraise evidence for an enclave's binding; return a signed attestation result."""
        verifier = self._verifiers.get(tee)
        if verifier is None:
            raise UnknownTeeType(f"this verifier does not accept TEE type {tee!r}")
        self.nonces.consume(nonce)
        now = self._clock()
        claims = verifier.verify(evidence, now=datetime.fromtimestamp(now, UTC))
        parsed = parse_binding(binding)
        if claims.report_data != parsed.report_data(nonce):
            raise ReportDataMismatch("evidence does not bind these keys and this nonce")
        self._reference.check(tee, claims.measurement, claims.debug)
        result = AttestationResult.from_claims(claims, parsed, int(now), self._token_ttl_s)
        return issue_token(self.key, result)

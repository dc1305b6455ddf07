"""Garbage into every parser the host can reach on the trusted side of the KMS and verifier."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veil.attestation.errors import EvidenceRefused
from veil.attestation.sim import SimVerifier
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.errors import Refused
from veil.trusted.wire.records import FunctionRecord, KeyGrant
from veil.wiring.direct import DirectPlatform

KEY = SigningKey.generate().public
FUZZ = settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.binary(max_size=400))
def test_garbage_registrations_and_key_requests_are_refused(
    platform: DirectPlatform, data: bytes
) -> None:
    for call in (platform.kms.register_function, platform.kms.release):
        with pytest.raises(Refused):
            call(data)


@FUZZ
@given(data=st.binary(max_size=400))
def test_garbage_records_grants_and_evidence_are_refused(data: bytes) -> None:
    for parse in (lambda d: FunctionRecord.verify(d, KEY), lambda d: KeyGrant.verify(d, KEY)):
        with pytest.raises(Refused):
            parse(data)
    with pytest.raises(EvidenceRefused):
        SimVerifier([KEY]).verify(data, now=datetime.now(UTC))

"""Sim evidence and the attestation service: nonces, report data, reference values, tokens."""

from __future__ import annotations

import stat
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from veil.attestation.errors import (
    DebugRefused,
    EvidenceSignatureInvalid,
    MalformedEvidence,
    MeasurementMismatch,
    NonceInvalid,
    ReportDataMismatch,
    TokenInvalid,
    UnknownTeeType,
)
from veil.attestation.factory import verifier_for
from veil.attestation.result import verify_token
from veil.attestation.service import AttestationService, ReferenceValues
from veil.attestation.sim import EvidenceStale, SimVerifier, load_or_create_host_key
from veil.trusted.attest.sim import EVIDENCE_CONTEXT, SimAttester, measurement
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.enclave import Enclave
from veil.trusted.wire import cbor, signed

HOST = SigningKey.generate()
KMS = SigningKey.generate()


def service(**reference: object) -> AttestationService:
    ref = ReferenceValues({"sim": {measurement().hex()}}, **reference)  # type: ignore[arg-type]
    return AttestationService(SigningKey.generate(), {"sim": SimVerifier([HOST.public])}, ref)


def attest(svc: AttestationService, attester: SimAttester, enclave: Enclave) -> str:
    nonce = svc.challenge()
    evidence = attester.evidence(enclave.report_data(nonce))
    return svc.attest("sim", evidence, enclave.binding.to_bytes(), nonce)


def test_valid_evidence_yields_a_token_naming_the_enclave_keys() -> None:
    svc, enclave = service(), Enclave(KMS.public)
    result = verify_token(
        attest(svc, SimAttester(HOST), enclave), [svc.key.public], now=time.time()
    )
    assert result.binding == enclave.binding
    assert result.measurement == measurement().hex()
    assert "no hardware protection" in result.details["protection"]


def test_wrong_measurement_is_refused() -> None:
    svc = AttestationService(
        SigningKey.generate(),
        {"sim": SimVerifier([HOST.public])},
        ReferenceValues({"sim": {"00" * 32}}),
    )
    with pytest.raises(MeasurementMismatch):
        attest(svc, SimAttester(HOST), Enclave(KMS.public))


def test_reused_nonce_is_refused() -> None:
    svc, enclave = service(), Enclave(KMS.public)
    nonce = svc.challenge()
    evidence = SimAttester(HOST).evidence(enclave.report_data(nonce))
    svc.attest("sim", evidence, enclave.binding.to_bytes(), nonce)
    with pytest.raises(NonceInvalid):
        svc.attest("sim", evidence, enclave.binding.to_bytes(), nonce)


def test_nonce_never_issued_is_refused() -> None:
    svc, enclave = service(), Enclave(KMS.public)
    nonce = bytes(32)
    with pytest.raises(NonceInvalid):
        svc.attest(
            "sim",
            SimAttester(HOST).evidence(enclave.report_data(nonce)),
            enclave.binding.to_bytes(),
            nonce,
        )


def test_evidence_signed_by_an_unknown_host_key_is_refused() -> None:
    with pytest.raises(EvidenceSignatureInvalid):
        attest(service(), SimAttester(SigningKey.generate()), Enclave(KMS.public))


def test_evidence_for_other_keys_is_a_report_data_mismatch() -> None:
    svc, enclave, other = service(), Enclave(KMS.public), Enclave(KMS.public)
    nonce = svc.challenge()
    evidence = SimAttester(HOST).evidence(other.report_data(nonce))
    with pytest.raises(ReportDataMismatch):
        svc.attest("sim", evidence, enclave.binding.to_bytes(), nonce)


def test_debug_enclave_is_refused_unless_allowed() -> None:
    with pytest.raises(DebugRefused):
        attest(service(), SimAttester(HOST, debug=True), Enclave(KMS.public))
    attest(service(allow_debug=True), SimAttester(HOST, debug=True), Enclave(KMS.public))


def test_stale_evidence_is_refused() -> None:
    body = {
        "tee": "sim",
        "measurement": measurement(),
        "report_data": bytes(64),
        "debug": False,
        "time": int(time.time()) - 3600,
    }
    evidence = signed.sign_document(HOST, EVIDENCE_CONTEXT, body)
    with pytest.raises(EvidenceStale):
        SimVerifier([HOST.public]).verify(evidence, now=datetime.now(UTC))


def test_garbage_evidence_is_malformed() -> None:
    with pytest.raises(MalformedEvidence):
        SimVerifier([HOST.public]).verify(b"\xa0", now=datetime.now(UTC))
    with pytest.raises(MalformedEvidence):
        SimVerifier([HOST.public]).verify(
            cbor.encode({"body": b"", "sig": b""}), now=datetime.now(UTC)
        )


def test_unknown_tee_type_fails_loudly() -> None:
    with pytest.raises(UnknownTeeType):
        verifier_for("quantum-enclave")
    with pytest.raises(UnknownTeeType):
        service().attest("sgx", b"", b"", bytes(32))


def test_factory_builds_the_sim_verifier() -> None:
    assert verifier_for("sim", host_keys=[HOST.public]).tee == "sim"


def test_expired_token_is_refused() -> None:
    svc = service()
    token = attest(svc, SimAttester(HOST), Enclave(KMS.public))
    with pytest.raises(TokenInvalid, match="expired"):
        verify_token(token, [svc.key.public], now=time.time() + 7200)


def test_token_signed_by_an_unknown_verifier_is_refused() -> None:
    token = attest(service(), SimAttester(HOST), Enclave(KMS.public))
    with pytest.raises(TokenInvalid, match="unknown"):
        verify_token(token, [SigningKey.generate().public], now=time.time())


def test_token_with_a_tampered_claim_is_refused() -> None:
    svc = service()
    token = attest(svc, SimAttester(HOST), Enclave(KMS.public))
    header, payload, sig = token.split(".")
    forged = ".".join([header, payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB"), sig])
    with pytest.raises(TokenInvalid):
        verify_token(forged, [svc.key.public], now=time.time())


def test_garbage_token_is_refused() -> None:
    with pytest.raises(TokenInvalid):
        verify_token("not.a.jwt", [SigningKey.generate().public], now=time.time())


def test_the_host_makes_its_sim_key_once_readable_by_it_alone(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "sim-host.key"
    key = load_or_create_host_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_host_key(path).public == key.public

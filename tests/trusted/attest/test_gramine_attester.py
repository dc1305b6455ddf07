"""Gramine's /dev/attestation, exercised on an ordinary directory replaying the recorded SGX quote.

The fake tree holds `attestation_type` = dcap and `quote` = the real sample;
the attester writes `user_report_data` and reads `quote`, and the result goes
through the real SGX verifier. Real Gramine regenerates the quote with our
report data on every read; that part needs SGX hardware (docs/real-tee.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest

from tests.vectors import EVIDENCE as SAMPLES
from veil.attestation.dcap.collateral import load_collateral
from veil.attestation.sgx import SgxVerifier
from veil.trusted.attest.attester import Attester
from veil.trusted.attest.errors import TeeUnavailable
from veil.trusted.attest.gramine import GramineAttester

NOW = datetime(2025, 6, 20, tzinfo=UTC)
REPORT_DATA = b"\x42" * 64


def fake_dev_attestation(root: Path, kind: str = "dcap") -> Path:
    root.mkdir()
    (root / "attestation_type").write_text(kind + "\n")
    (root / "quote").write_bytes((SAMPLES / "sgx" / "quote.bin").read_bytes())
    return root


def test_a_quote_from_gramine_verifies(tmp_path: Path) -> None:
    gramine = GramineAttester(root=fake_dev_attestation(tmp_path / "attestation"))
    assert isinstance(gramine, Attester)
    quote = gramine.evidence(REPORT_DATA)
    verifier = SgxVerifier(
        root_der=(SAMPLES / "intel_sgx_root_ca.der").read_bytes(),
        collateral=load_collateral(SAMPLES / "sgx" / "collateral.json"),
    )
    claims = verifier.verify(quote, now=NOW)
    assert claims.tcb_status == "ConfigurationAndSWHardeningNeeded"


def test_the_report_data_is_written_to_user_report_data(tmp_path: Path) -> None:
    root = fake_dev_attestation(tmp_path / "attestation")
    GramineAttester(root=root).evidence(REPORT_DATA)
    assert (root / "user_report_data").read_bytes() == REPORT_DATA


def test_an_enclave_without_dcap_attestation_is_refused(tmp_path: Path) -> None:
    root = fake_dev_attestation(tmp_path / "attestation", kind="none")
    with pytest.raises(TeeUnavailable):
        GramineAttester(root=root).evidence(REPORT_DATA)


def test_outside_gramine_there_is_no_tee(tmp_path: Path) -> None:
    with pytest.raises(TeeUnavailable):
        GramineAttester(root=tmp_path / "absent").evidence(REPORT_DATA)


def test_report_data_must_be_64_bytes(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        GramineAttester(root=fake_dev_attestation(tmp_path / "a")).evidence(b"\x00" * 32)


def test_the_manifest_template_asks_for_dcap_and_no_debug() -> None:
    template = resources.files("veil.trusted.attest.manifests").joinpath(
        "veil-worker.manifest.template"
    )
    text = template.read_text()
    assert 'sgx.remote_attestation = "dcap"' in text
    assert "sgx.debug = false" in text
    assert "sgx.trusted_files" in text

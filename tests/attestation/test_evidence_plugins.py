"""The factory builds the SGX, TDX and SNP verifiers from their plug-in folders."""

from __future__ import annotations

import pytest

from tests.attestation.evidence_samples import (
    INTEL_ROOT,
    SAMPLE_NOW,
    sample_bytes,
    sample_collateral,
    snp_report,
)
from veil.attestation.errors import UnknownTeeType
from veil.attestation.factory import PLUGINS, verifier_for
from veil.attestation.verifier import Verifier
from veil.trusted.crypto.signing import SigningKey


def test_sgx_tdx_and_snp_are_registered() -> None:
    assert {"sgx", "tdx", "snp"} <= set(PLUGINS)


def test_the_factory_builds_working_dcap_verifiers() -> None:
    for tee in ("sgx", "tdx"):
        verifier = verifier_for(
            tee, root_der=INTEL_ROOT.read_bytes(), collateral=sample_collateral(tee)
        )
        assert isinstance(verifier, Verifier)
        assert verifier.tee == tee
        assert verifier.verify(sample_bytes(f"{tee}/quote.bin"), now=SAMPLE_NOW).tee == tee


def test_the_factory_builds_a_working_snp_verifier() -> None:
    verifier = verifier_for(
        "snp",
        ark_pem=sample_bytes("snp/ark_milan.pem"),
        ask_pem=sample_bytes("snp/ask_milan.pem"),
        vcek_der=sample_bytes("snp/vcek_milan.der"),
    )
    assert verifier.verify(snp_report(), now=SAMPLE_NOW).tee == "snp"


def test_an_unknown_tee_type_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(
        UnknownTeeType, match="no verifier for TEE type 'sev'; known: sgx, sim, snp, tdx"
    ):
        verifier_for("sev")


def test_the_factory_builds_the_sim_verifier() -> None:
    built = verifier_for("sim", host_keys=[SigningKey.generate().public])
    assert isinstance(built, Verifier)
    assert built.tee == "sim"

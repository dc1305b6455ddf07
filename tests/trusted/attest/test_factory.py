"""One factory picks the evidence producer by TEE type; an unknown TEE fails loudly."""

from __future__ import annotations

from pathlib import Path

import pytest

from veil.attestation.sim import load_or_create_host_key
from veil.trusted.attest import TEES, make_attester
from veil.trusted.attest.gramine import GramineAttester
from veil.trusted.attest.sim import SimAttester
from veil.trusted.attest.tsm import TsmAttester


def test_the_attester_is_chosen_by_tee_type(tmp_path: Path) -> None:
    load_or_create_host_key(tmp_path / "k")
    assert isinstance(make_attester("sim", tmp_path / "k"), SimAttester)
    assert isinstance(make_attester("sgx"), GramineAttester)
    assert isinstance(make_attester("tdx"), TsmAttester) and make_attester("snp").tee == "snp"
    assert {make_attester(t, tmp_path / "k").tee for t in TEES} == set(TEES)


def test_the_sim_tee_needs_its_host_key_file() -> None:
    with pytest.raises(ValueError, match="host key"):
        make_attester("sim")


def test_the_sim_enclave_reads_the_hosts_key_and_never_makes_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        make_attester("sim", tmp_path / "missing.key")
    assert not (tmp_path / "missing.key").exists()


def test_an_unknown_tee_fails_loudly() -> None:
    with pytest.raises(ValueError, match="unknown TEE"):
        make_attester("sev")

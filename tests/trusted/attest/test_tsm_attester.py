"""configfs-tsm, exercised on an ordinary directory that replays recorded TDX and SNP evidence.

`FakeConfigfs.mkdir` plays the kernel's part: it populates a new report
entry with `provider`, `generation` and an `outblob` holding the recorded
real evidence. The evidence that comes out then goes through the real
verifier. What this cannot show (the kernel really writing the report
data into fresh hardware evidence) needs a TDX or SNP guest; see
docs/real-tee.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.vectors import EVIDENCE as SAMPLES
from veil.attestation.dcap.collateral import load_collateral
from veil.attestation.snp import SnpVerifier
from veil.attestation.tdx import TdxVerifier
from veil.trusted.attest.attester import Attester
from veil.trusted.attest.errors import ProviderMismatch, ReportRaced, TeeUnavailable
from veil.trusted.attest.tsm import TsmAttester

NOW = datetime(2025, 6, 20, tzinfo=UTC)
REPORT_DATA = bytes(range(64))


@dataclass
class FakeConfigfs:
    outblob: bytes
    provider: str
    entries: list[Path] = field(default_factory=list)

    def mkdir(self, entry: Path) -> None:
        entry.mkdir()
        (entry / "provider").write_text(self.provider + "\n")
        (entry / "generation").write_text("1\n")
        (entry / "outblob").write_bytes(self.outblob)
        self.entries.append(entry)

    def rmdir(self, entry: Path) -> None:
        for child in entry.iterdir():
            child.unlink()
        entry.rmdir()


def attester(tmp_path: Path, fake: FakeConfigfs, tee: str) -> TsmAttester:
    return TsmAttester(tee, root=tmp_path, mkdir=fake.mkdir, rmdir=fake.rmdir)


def test_a_tdx_quote_from_configfs_tsm_verifies(tmp_path: Path) -> None:
    fake = FakeConfigfs((SAMPLES / "tdx" / "quote.bin").read_bytes(), "tdx_guest")
    tsm = attester(tmp_path, fake, "tdx")
    assert isinstance(tsm, Attester)
    evidence = tsm.evidence(REPORT_DATA)
    verifier = TdxVerifier(
        root_der=(SAMPLES / "intel_sgx_root_ca.der").read_bytes(),
        collateral=load_collateral(SAMPLES / "tdx" / "collateral.json"),
    )
    claims = verifier.verify(evidence, now=NOW)
    assert claims.tcb_status == "UpToDate"
    # Recorded evidence binds its own report data; real hardware would bind ours.
    assert claims.report_data == evidence[48 + 520 : 48 + 584]


def test_an_snp_report_from_configfs_tsm_verifies(tmp_path: Path) -> None:
    report = bytes.fromhex((SAMPLES / "snp" / "report_milan.hex").read_text())
    fake = FakeConfigfs(report, "sev_guest")
    evidence = attester(tmp_path, fake, "snp").evidence(REPORT_DATA)
    verifier = SnpVerifier(
        ark_pem=(SAMPLES / "snp" / "ark_milan.pem").read_bytes(),
        ask_pem=(SAMPLES / "snp" / "ask_milan.pem").read_bytes(),
        vcek_der=(SAMPLES / "snp" / "vcek_milan.der").read_bytes(),
    )
    assert verifier.verify(evidence, now=NOW).measurement == report[0x90:0xC0].hex()


def test_the_report_data_is_written_to_inblob_and_the_entry_removed(tmp_path: Path) -> None:
    fake = FakeConfigfs(b"evidence", "tdx_guest")
    written: dict[str, bytes] = {}

    def rmdir(entry: Path) -> None:
        written["inblob"] = (entry / "inblob").read_bytes()
        fake.rmdir(entry)

    tsm = TsmAttester("tdx", root=tmp_path, mkdir=fake.mkdir, rmdir=rmdir)
    report = tsm.report(REPORT_DATA)
    assert (report.outblob, report.provider, report.generation) == (b"evidence", "tdx_guest", 1)
    assert written["inblob"] == REPORT_DATA
    assert list(tmp_path.iterdir()) == []


def test_an_snp_privilege_level_is_written_when_asked(tmp_path: Path) -> None:
    fake = FakeConfigfs(b"evidence", "sev_guest")
    seen: dict[str, str] = {}

    def rmdir(entry: Path) -> None:
        seen["privlevel"] = (entry / "privlevel").read_text()
        fake.rmdir(entry)

    TsmAttester("snp", root=tmp_path, privlevel=2, mkdir=fake.mkdir, rmdir=rmdir).evidence(
        REPORT_DATA
    )
    assert seen["privlevel"] == "2\n"


def test_another_tees_provider_is_refused(tmp_path: Path) -> None:
    fake = FakeConfigfs(b"evidence", "sev_guest")
    with pytest.raises(ProviderMismatch):
        attester(tmp_path, fake, "tdx").evidence(REPORT_DATA)
    assert list(tmp_path.iterdir()) == []


def test_a_generation_change_during_the_report_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeConfigfs(b"evidence", "tdx_guest")
    real_read = Path.read_bytes

    def racing_read(path: Path) -> bytes:  # another writer's inblob lands as we read outblob
        data = real_read(path)
        if path.name == "outblob":
            (path.parent / "generation").write_text("2\n")
        return data

    monkeypatch.setattr(Path, "read_bytes", racing_read)
    with pytest.raises(ReportRaced):
        attester(tmp_path, fake, "tdx").evidence(REPORT_DATA)


def test_no_configfs_tsm_means_no_tee(tmp_path: Path) -> None:
    with pytest.raises(TeeUnavailable):
        TsmAttester("tdx", root=tmp_path / "absent").evidence(REPORT_DATA)


def test_report_data_must_be_64_bytes(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        TsmAttester("tdx", root=tmp_path).evidence(b"short")


def test_only_tdx_and_snp_are_served() -> None:
    with pytest.raises(ValueError):
        TsmAttester("sgx")


def test_the_samples_readme_is_where_the_recorded_evidence_comes_from() -> None:
    readme = (SAMPLES.parent / "README.md").read_text()
    assert "tdx/quote.bin" in readme and "report_milan.hex" in readme
    assert json.loads((SAMPLES / "tdx" / "collateral.json").read_text())["tcb_info"]

"""`veil evidence verify` on the real samples: JSON verdict, exit 0 verified, 1 refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.vectors import EVIDENCE as E
from veil.cli.main import app

NOW = ["--now", "2025-06-20T00:00:00Z"]
INTEL = ["--root", str(E / "intel_sgx_root_ca.der")]
AMD = [
    "--vcek",
    str(E / "snp" / "vcek_milan.der"),
    "--ark",
    str(E / "snp" / "ark_milan.pem"),
    "--ask",
    str(E / "snp" / "ask_milan.pem"),
]


def run(*args: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(app, ["evidence", "verify", *args])
    return result.exit_code, json.loads(result.stdout) if result.stdout.startswith("{") else {}


def test_the_sgx_sample_verifies_with_its_tcb_status() -> None:
    code, out = run(
        str(E / "sgx" / "quote.bin"),
        "--collateral",
        str(E / "sgx" / "collateral.json"),
        *INTEL,
        *NOW,
    )
    assert code == 0
    assert out["verdict"] == "verified" and out["type"] == "sgx"
    claims = out["claims"]
    assert isinstance(claims, dict)
    assert claims["tcb_status"] == "ConfigurationAndSWHardeningNeeded"
    assert claims["advisories"] == ["INTEL-SA-00289", "INTEL-SA-00615"]


def test_the_tdx_sample_verifies_up_to_date() -> None:
    code, out = run(
        str(E / "tdx" / "quote.bin"),
        "--type",
        "tdx",
        "--collateral",
        str(E / "tdx" / "collateral.json"),
        *INTEL,
        *NOW,
    )
    assert code == 0
    assert out["claims"]["tcb_status"] == "UpToDate"  # type: ignore[index]


def test_the_snp_sample_verifies_from_hex_text(tmp_path: Path) -> None:
    code, out = run(str(E / "snp" / "report_milan.hex"), *AMD, *NOW)
    assert (code, out["type"]) == (0, "snp")


def test_the_snp_sample_verifies_from_binary(tmp_path: Path) -> None:
    binary = tmp_path / "report.bin"
    binary.write_bytes(bytes.fromhex((E / "snp" / "report_milan.hex").read_text()))
    code, out = run(str(binary), "--type", "snp", *AMD, *NOW)
    assert (code, out["verdict"]) == (0, "verified")


def test_expired_collateral_is_refused_with_its_reason() -> None:
    code, out = run(
        str(E / "sgx" / "quote.bin"),
        "--collateral",
        str(E / "sgx" / "collateral.json"),
        *INTEL,
        "--now",
        "2030-01-01T00:00:00Z",
    )
    assert code == 1
    assert out["verdict"] == "refused"
    assert out["error"] == "CollateralExpired"


def test_a_tampered_quote_is_refused_naming_the_failed_check(tmp_path: Path) -> None:
    quote = bytearray((E / "sgx" / "quote.bin").read_bytes())
    quote[100] ^= 1  # inside the enclave report body
    tampered = tmp_path / "quote.bin"
    tampered.write_bytes(bytes(quote))
    code, out = run(str(tampered), "--collateral", str(E / "sgx" / "collateral.json"), *INTEL, *NOW)
    assert (code, out["error"]) == (1, "EvidenceSignatureInvalid")


def test_unrecognisable_bytes_are_refused_as_malformed(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 100)
    code, out = run(str(junk))
    assert (code, out["error"]) == (1, "MalformedEvidence")


@pytest.mark.parametrize("missing", ["--collateral", "--root"])
def test_sgx_without_collateral_or_root_is_a_usage_error(missing: str) -> None:
    args = {
        "--collateral": str(E / "sgx" / "collateral.json"),
        "--root": str(E / "intel_sgx_root_ca.der"),
    }
    del args[missing]
    flat = [part for pair in args.items() for part in pair]
    result = CliRunner().invoke(
        app, ["evidence", "verify", str(E / "sgx" / "quote.bin"), *flat, *NOW]
    )
    assert result.exit_code == 2

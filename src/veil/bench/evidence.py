"""`veil bench evidence`: verifications per second per TEE type, and the cost of loading collateral.

Verifiers are built once with their collateral parsed and its signatures
checked (as the KMS keeps them), so `*_verify_per_s` measures the per-quote
work: parsing, the PCK/VCEK chain, every signature, TCB matching.
`collateral_load_ms` is the one-off cost of reading and parsing a
collateral file (JSON, certificates, CRLs). Inputs are the real samples in
the repo's `tests/vectors/evidence/` (or `$VEIL_EVIDENCE_SAMPLES`).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from veil.attestation.dcap.collateral import load_collateral
from veil.attestation.sgx import SgxVerifier
from veil.attestation.snp import SnpVerifier
from veil.attestation.tdx import TdxVerifier
from veil.attestation.verifier import Verifier
from veil.bench.harness import Metric, median, timings_us

SAMPLE_NOW = datetime(2025, 6, 20, tzinfo=UTC)
"""Inside every validity window of the samples' collateral."""


def samples_dir() -> Path:
    configured = os.environ.get("VEIL_EVIDENCE_SAMPLES")
    if configured:
        return Path(configured)
    project_root = Path(__file__).resolve().parents[3]
    return project_root / "tests" / "vectors" / "evidence"


def _per_second(verifier: Verifier, evidence: bytes, iterations: int) -> float:
    samples = timings_us(lambda: verifier.verify(evidence, now=SAMPLE_NOW), iterations, warmup=5)
    return 1e6 / median(samples)


def run(quick: bool) -> list[Metric]:
    root = samples_dir()
    if not root.is_dir():
        raise FileNotFoundError(f"evidence samples not found at {root} (set VEIL_EVIDENCE_SAMPLES)")
    iterations = 60 if quick else 600
    intel_root = (root / "intel_sgx_root_ca.der").read_bytes()

    load_samples = []
    for _ in range(10 if quick else 50):
        start = time.perf_counter_ns()
        sgx_collateral = load_collateral(root / "sgx" / "collateral.json")
        load_samples.append((time.perf_counter_ns() - start) / 1e6)
    tdx_collateral = load_collateral(root / "tdx" / "collateral.json")

    sgx = SgxVerifier(root_der=intel_root, collateral=sgx_collateral)
    sgx_quote = (root / "sgx" / "quote.bin").read_bytes()
    start = time.perf_counter_ns()
    sgx.verify(sgx_quote, now=SAMPLE_NOW)  # first call also checks the collateral's signatures
    first_ms = (time.perf_counter_ns() - start) / 1e6

    tdx = TdxVerifier(root_der=intel_root, collateral=tdx_collateral)
    snp = SnpVerifier(
        ark_pem=(root / "snp" / "ark_milan.pem").read_bytes(),
        ask_pem=(root / "snp" / "ask_milan.pem").read_bytes(),
        vcek_der=(root / "snp" / "vcek_milan.der").read_bytes(),
    )
    snp_report = bytes.fromhex((root / "snp" / "report_milan.hex").read_text())
    return [
        Metric("sgx_verify_per_s", _per_second(sgx, sgx_quote, iterations), "1/s", "higher"),
        Metric(
            "tdx_verify_per_s",
            _per_second(tdx, (root / "tdx" / "quote.bin").read_bytes(), iterations),
            "1/s",
            "higher",
        ),
        Metric("snp_verify_per_s", _per_second(snp, snp_report, iterations), "1/s", "higher"),
        Metric("collateral_load_ms", median(load_samples), "ms", "lower"),
        Metric("sgx_first_verify_ms", first_ms, "ms", "lower"),
    ]

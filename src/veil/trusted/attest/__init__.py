"""How an enclave produces evidence: `sim` (software, the default) and real TEE backends.

An attester turns 64 bytes of report data into evidence bytes that a
verifier in `veil.attestation` checks. `make_attester` is the one factory.
"""

from __future__ import annotations

from pathlib import Path

from veil.trusted.attest.attester import Attester

TEES = ("sim", "sgx", "tdx", "snp")


def make_attester(tee: str, sim_key: Path | None = None) -> Attester:
    """The evidence producer for `tee`: sim, sgx (Gramine) or tdx/snp (configfs-tsm)."""
    if tee == "sim":
        from veil.trusted.attest.sim import SimAttester
        from veil.trusted.crypto.signing import SigningKey

        if sim_key is None:
            raise ValueError("the sim TEE needs its host key file")
        return SimAttester(SigningKey.from_bytes(sim_key.read_bytes()))  # made by the host
    if tee == "sgx":
        from veil.trusted.attest.gramine import GramineAttester

        return GramineAttester()
    if tee in ("tdx", "snp"):
        from veil.trusted.attest.tsm import TsmAttester

        return TsmAttester(tee)
    raise ValueError(f"unknown TEE {tee!r}; this enclave knows {', '.join(TEES)}")

"""Evidence from an SGX enclave running under Gramine (DCAP).

Gramine's pseudo-filesystem `/dev/attestation`: `attestation_type` says
`dcap` when the manifest sets `sgx.remote_attestation = "dcap"`; writing 64
bytes to `user_report_data` and then reading `quote` gives a DCAP quote
whose report data is those bytes. The root is a parameter so tests can
replay a recorded quote from an ordinary directory.
"""

from __future__ import annotations

from pathlib import Path

from veil.trusted.attest.attester import check_report_data
from veil.trusted.attest.errors import AttesterError, TeeUnavailable

DEFAULT_ROOT = Path("/dev/attestation")


class GramineAttester:
    """SGX DCAP quotes through Gramine's /dev/attestation."""

    tee = "sgx"

    def __init__(self, *, root: Path = DEFAULT_ROOT) -> None:
        self.root = root

    def evidence(self, report_data: bytes) -> bytes:
        data = check_report_data(report_data)
        kind_file = self.root / "attestation_type"
        if not kind_file.exists():
            raise TeeUnavailable(f"no Gramine attestation interface at {self.root}")
        try:
            kind = kind_file.read_text().strip()
            if kind != "dcap":
                raise TeeUnavailable(
                    f"Gramine attestation type is {kind!r}; the manifest needs dcap"
                )
            (self.root / "user_report_data").write_bytes(data)
            quote = (self.root / "quote").read_bytes()
        except OSError as exc:
            raise AttesterError(f"Gramine quote failed: {exc}") from None
        if not quote:
            raise AttesterError("Gramine returned an empty quote")
        return quote

"""Evidence from a confidential VM through Linux configfs-tsm (TDX and SEV-SNP guests).

Documentation/ABI/testing/configfs-tsm: a directory made under the report root
is an entry; 64 bytes written to `inblob` are the report data; `outblob` is the
quote or report; `provider` names the driver; `generation` counts inblob writes
(a change mid-report means a shared entry); `auxblob` (SNP) may carry the host's
certificate table. `mkdir` is a parameter: tests play configfs's part with it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from veil.trusted.attest.attester import check_report_data
from veil.trusted.attest.errors import AttesterError, ProviderMismatch, ReportRaced, TeeUnavailable

DEFAULT_ROOT = Path("/sys/kernel/config/tsm/report")
PROVIDERS = {"tdx": "tdx_guest", "snp": "sev_guest"}


@dataclass(frozen=True)
class TsmReport:
    outblob: bytes
    provider: str
    generation: int
    auxblob: bytes | None


class TsmAttester:
    """TDX or SNP evidence through configfs-tsm."""

    def __init__(
        self,
        tee: str,
        *,
        root: Path = DEFAULT_ROOT,
        privlevel: int | None = None,
        mkdir: Callable[[Path], None] = os.mkdir,
        rmdir: Callable[[Path], None] = os.rmdir,
    ) -> None:
        if tee not in PROVIDERS:
            raise ValueError(f"configfs-tsm serves {sorted(PROVIDERS)}, not {tee!r}")
        self.tee = tee
        self.root = root
        self.privlevel = privlevel
        self._mkdir = mkdir
        self._rmdir = rmdir

    def evidence(self, report_data: bytes) -> bytes:
        return self.report(report_data).outblob

    def report(self, report_data: bytes) -> TsmReport:
        """One report: create the entry, bind the report data, read the evidence, clean up."""
        data = check_report_data(report_data)
        if not self.root.is_dir():
            raise TeeUnavailable(f"no configfs-tsm at {self.root}")
        entry = self.root / f"veil-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            self._mkdir(entry)
        except OSError as exc:
            raise TeeUnavailable(f"cannot create a report entry: {exc}") from None
        try:
            return self._read_report(entry, data)
        finally:
            with contextlib.suppress(OSError):  # only fails if the entry is already gone
                self._rmdir(entry)

    def _read_report(self, entry: Path, data: bytes) -> TsmReport:
        try:
            provider = (entry / "provider").read_text().strip()
            if provider != PROVIDERS[self.tee]:
                raise ProviderMismatch(f"configfs-tsm provider is {provider!r}, not {self.tee}")
            if self.privlevel is not None:
                (entry / "privlevel").write_text(f"{self.privlevel}\n")
            (entry / "inblob").write_bytes(data)
            before = int((entry / "generation").read_text())
            outblob = (entry / "outblob").read_bytes()
            after = int((entry / "generation").read_text())
            auxblob_path = entry / "auxblob"
            auxblob = auxblob_path.read_bytes() if auxblob_path.exists() else None
        except (OSError, ValueError) as exc:
            raise AttesterError(f"configfs-tsm report failed: {exc}") from None
        if before != after:
            raise ReportRaced(f"generation moved from {before} to {after} during the report")
        if not outblob:
            raise AttesterError("configfs-tsm returned an empty outblob")
        return TsmReport(outblob=outblob, provider=provider, generation=after, auxblob=auxblob)

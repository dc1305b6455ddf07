"""Optional: fetch VCEK certificates from AMD's Key Distribution Service, with a cache.

Plugs into `SnpVerifier(vcek_lookup=KdsVcekLookup(...))`. The lookup is
given the *unverified* report, so it only chooses which certificate to
fetch (by chip id and reported TCB); the verifier then checks that
certificate against the pinned ARK/ASK and the report against it. Never
needed by the tests, which supply VCEKs from files.

`GET {base}/vcek/v1/{product}/{chip id hex}?blSPL=…&teeSPL=…&snpSPL=…&ucodeSPL=…`
returns the VCEK as DER.
"""

from __future__ import annotations

import httpx

from veil.attestation.errors import CertificateChainInvalid
from veil.attestation.snp.report import AttestationReport, TcbVersion

AMD_KDS = "https://kdsintf.amd.com"


class KdsVcekLookup:
    """`vcek_lookup` for one product line (Milan, Genoa); VCEKs cached by chip and TCB."""

    def __init__(
        self, product: str, *, base_url: str = AMD_KDS, client: httpx.Client | None = None
    ) -> None:
        if product not in ("Milan", "Genoa"):
            raise ValueError("KDS VCEK lookup supports Milan and Genoa (Turin's URL differs)")
        self.product = product
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.Client(timeout=30)
        self._cache: dict[tuple[bytes, bytes], bytes] = {}

    def __call__(self, report: AttestationReport) -> bytes:
        key = (report.chip_id, report.reported_tcb_raw)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        tcb = TcbVersion.parse(report.reported_tcb_raw)
        url = f"{self.base_url}/vcek/v1/{self.product}/{report.chip_id.hex()}"
        params = {
            "blSPL": str(tcb.bootloader),
            "teeSPL": str(tcb.tee),
            "snpSPL": str(tcb.snp),
            "ucodeSPL": str(tcb.microcode),
        }
        try:
            response = self._client.get(url, params=params)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise CertificateChainInvalid(f"cannot fetch the VCEK from {url}: {exc}") from None
        self._cache[key] = response.content
        return response.content

"""Optional: fetch DCAP collateral from Intel PCS or a PCCS, with a small cache.

Never needed by the verifiers or the tests (they take collateral from
files); this is for operators whose platforms' collateral changes monthly.
Everything fetched is untrusted until a verifier checks it against the
pinned root. The signed TCB info / QE identity JSON is cut out of the
response body byte for byte, because the signature covers that exact text.

API (Intel PCS v4; a PCCS serves the same paths):
`/{sgx,tdx}/certification/v4/tcb?fmspc=…` (issuer chain in the
`TCB-Info-Issuer-Chain` header), `/{sgx,tdx}/certification/v4/qe/identity`
(`SGX-Enclave-Identity-Issuer-Chain`), `/sgx/certification/v4/pckcrl?ca=…&encoding=der`
(`SGX-PCK-CRL-Issuer-Chain`), and the root CA CRL from `root_ca_crl_url`.
"""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import unquote

import httpx
from cryptography.x509.oid import NameOID

from veil.attestation.certchain import load_pem_chain
from veil.attestation.dcap.collateral import Collateral, collateral_from_json
from veil.attestation.dcap.pck import pck_extensions
from veil.attestation.dcap.quote import TEE_TDX, parse_quote
from veil.attestation.errors import CollateralInvalid

INTEL_PCS = "https://api.trustedservices.intel.com"
INTEL_ROOT_CA_CRL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"


class PcsClient:
    """Collateral for a quote's platform, cached until its earliest `nextUpdate`."""

    def __init__(
        self,
        base_url: str = INTEL_PCS,
        *,
        root_ca_crl_url: str = INTEL_ROOT_CA_CRL,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.root_ca_crl_url = root_ca_crl_url
        self._client = client or httpx.Client(timeout=30)
        self._cache: dict[tuple[str, str, str], Collateral] = {}

    def collateral_for(self, quote: bytes, *, now: datetime) -> Collateral:
        """Collateral for the platform (FMSPC, PCK CA, TEE kind) that produced `quote`."""
        parsed = parse_quote(quote)
        pck_chain = load_pem_chain(parsed.certification.pck_chain_pem, what="PCK chain")
        fmspc = pck_extensions(pck_chain[0]).fmspc.hex().upper()
        issuer_cn = pck_chain[0].issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
        ca = "platform" if issuer_cn and "Platform" in str(issuer_cn[0].value) else "processor"
        kind = "tdx" if parsed.header.tee_type == TEE_TDX else "sgx"
        key = (kind, fmspc, ca)
        cached = self._cache.get(key)
        if cached is not None and now < _expiry(cached):
            return cached
        collateral = self.fetch(kind=kind, fmspc=fmspc, ca=ca)
        self._cache[key] = collateral
        return collateral

    def fetch(self, *, kind: str, fmspc: str, ca: str) -> Collateral:
        base = f"{self.base_url}/{kind}/certification/v4"
        tcb = self._get(f"{base}/tcb", params={"fmspc": fmspc})
        qe = self._get(f"{base}/qe/identity")
        pck_crl = self._get(
            f"{self.base_url}/sgx/certification/v4/pckcrl", params={"ca": ca, "encoding": "der"}
        )
        root_crl = self._get(self.root_ca_crl_url)
        return collateral_from_json(
            {
                "tcb_info_issuer_chain": _header(tcb, "TCB-Info-Issuer-Chain"),
                "tcb_info": signed_text(tcb.text, "tcbInfo"),
                "tcb_info_signature": json.loads(tcb.text)["signature"],
                "qe_identity_issuer_chain": _header(qe, "SGX-Enclave-Identity-Issuer-Chain"),
                "qe_identity": signed_text(qe.text, "enclaveIdentity"),
                "qe_identity_signature": json.loads(qe.text)["signature"],
                "pck_crl_issuer_chain": _header(pck_crl, "SGX-PCK-CRL-Issuer-Chain"),
                "pck_crl": _der_or_hex(pck_crl.content).hex(),
                "root_ca_crl": _der_or_hex(root_crl.content).hex(),
            }
        )

    def _get(self, url: str, params: dict[str, str] | None = None) -> httpx.Response:
        try:
            response = self._client.get(url, params=params)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise CollateralInvalid(f"cannot fetch collateral from {url}: {exc}") from None
        return response


def signed_text(body: str, key: str) -> str:
    """The exact text of the JSON value under `key` in `body` (what Intel signed)."""
    decoder = json.JSONDecoder()
    marker = body.find(f'"{key}"')
    if marker < 0:
        raise CollateralInvalid(f"response has no {key!r}")
    colon = body.index(":", marker + len(key) + 2)
    start = colon + 1
    while body[start].isspace():
        start += 1
    try:
        _, end = decoder.raw_decode(body, start)
    except ValueError:
        raise CollateralInvalid(f"{key!r} is not JSON") from None
    return body[start:end]


def _header(response: httpx.Response, name: str) -> str:
    value = response.headers.get(name)
    if value is None:
        raise CollateralInvalid(f"response lacks the {name} header")
    return unquote(value)


def _der_or_hex(content: bytes) -> bytes:
    try:
        return bytes.fromhex(content.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return content


def _expiry(collateral: Collateral) -> datetime:
    return min(
        collateral.tcb_info.next_update,
        collateral.qe_identity.next_update,
        collateral.pck_crl.next_update_utc or collateral.tcb_info.issue_date,
        collateral.root_ca_crl.next_update_utc or collateral.tcb_info.issue_date,
    )

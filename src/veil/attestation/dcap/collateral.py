"""DCAP collateral: CRLs, TCB info and QE identity, with their issuer chains.

Loaded once and parsed once (certificates, CRLs, JSON documents), then
reused for every quote of the platform family; nothing here is trusted
until `checks.verify_collateral` has checked it against the pinned root.
The JSON documents are kept as the exact text Intel signed, because the
signature is over those bytes, not over any re-serialisation.

The file layout is the one in `testdata/evidence/{sgx,tdx}/collateral.json`
(and dcap-qvl's `QuoteCollateralV3`): PEM chains, CRLs as hex DER (PEM also
accepted), JSON documents as strings, signatures as hex raw r||s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from veil.attestation.certchain import load_pem_chain
from veil.attestation.dcap.documents import QeIdentity, TcbInfo, parse_qe_identity, parse_tcb_info
from veil.attestation.errors import CertificateChainInvalid, CollateralInvalid

_FIELDS = (
    "pck_crl_issuer_chain",
    "root_ca_crl",
    "pck_crl",
    "tcb_info_issuer_chain",
    "tcb_info",
    "tcb_info_signature",
    "qe_identity_issuer_chain",
    "qe_identity",
    "qe_identity_signature",
)


@dataclass(frozen=True, eq=False)
class Collateral:
    """Parsed, not yet verified, collateral for one platform family (FMSPC) and TEE kind."""

    pck_crl_issuer_chain: tuple[x509.Certificate, ...]
    root_ca_crl: x509.CertificateRevocationList
    pck_crl: x509.CertificateRevocationList
    tcb_info_issuer_chain: tuple[x509.Certificate, ...]
    tcb_info_text: bytes
    tcb_info: TcbInfo
    tcb_info_signature: bytes
    qe_identity_issuer_chain: tuple[x509.Certificate, ...]
    qe_identity_text: bytes
    qe_identity: QeIdentity
    qe_identity_signature: bytes


def load_collateral(path: Path | str) -> Collateral:
    """Read and parse a collateral JSON file."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CollateralInvalid(f"cannot read collateral {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise CollateralInvalid("collateral must be a JSON object")
    return collateral_from_json(raw)


def collateral_from_json(raw: Mapping[str, object]) -> Collateral:
    """Parse collateral from its JSON object form (see the module docstring)."""
    fields: dict[str, str] = {}
    for name in _FIELDS:
        value = raw.get(name)
        if not isinstance(value, str):
            raise CollateralInvalid(f"collateral field {name!r} missing or not a string")
        fields[name] = value
    tcb_info_text = fields["tcb_info"].encode()
    qe_identity_text = fields["qe_identity"].encode()
    return Collateral(
        pck_crl_issuer_chain=_chain(fields["pck_crl_issuer_chain"], "pck_crl_issuer_chain"),
        root_ca_crl=_crl(fields["root_ca_crl"], "root_ca_crl"),
        pck_crl=_crl(fields["pck_crl"], "pck_crl"),
        tcb_info_issuer_chain=_chain(fields["tcb_info_issuer_chain"], "tcb_info_issuer_chain"),
        tcb_info_text=tcb_info_text,
        tcb_info=parse_tcb_info(tcb_info_text),
        tcb_info_signature=_hex(fields["tcb_info_signature"], "tcb_info_signature"),
        qe_identity_issuer_chain=_chain(
            fields["qe_identity_issuer_chain"], "qe_identity_issuer_chain"
        ),
        qe_identity_text=qe_identity_text,
        qe_identity=parse_qe_identity(qe_identity_text),
        qe_identity_signature=_hex(fields["qe_identity_signature"], "qe_identity_signature"),
    )


def _chain(pem: str, name: str) -> tuple[x509.Certificate, ...]:
    try:
        return tuple(load_pem_chain(pem.encode(), what=name))
    except CertificateChainInvalid as exc:
        raise CollateralInvalid(str(exc)) from None


def _crl(text: str, name: str) -> x509.CertificateRevocationList:
    try:
        if text.lstrip().startswith("-----BEGIN"):
            return x509.load_pem_x509_crl(text.encode())
        return x509.load_der_x509_crl(bytes.fromhex(text))
    except ValueError as exc:
        raise CollateralInvalid(f"{name}: not a CRL ({exc})") from None


def _hex(text: str, name: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise CollateralInvalid(f"{name}: not hex") from None
    if len(value) != 64:
        raise CollateralInvalid(f"{name}: expected a 64-byte raw r||s signature")
    return value

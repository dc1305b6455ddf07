"""The checks every DCAP quote gets, SGX or TDX, in the order that names failures best.

1. collateral: root CA CRL, TCB info and QE identity signed (over their exact
   text) by a TCB signing certificate that chains to the pinned root and is not
   revoked; PCK CRL signed by its CA; every window open at `now`;
2. the quote's PCK chain leads to the pinned root, nothing in it is revoked;
3. the QE report is signed by the PCK key, and its report data is
   SHA-256(attestation key || QE auth data) || 32 zero bytes;
4. the QE is Intel's (QE identity) and its TCB level;
5. the quote (header and body) is signed by the attestation key.

Signature checks on collateral are done once per `CollateralCheck` (the
collateral is immutable); window checks are done for every quote.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from veil.attestation.certchain import (
    check_crl_signature,
    check_crl_window,
    check_not_revoked,
    check_validity,
    load_pem_chain,
    verify_chain,
    verify_links,
)
from veil.attestation.dcap.collateral import Collateral
from veil.attestation.dcap.errors import (
    AttestationKeyNotBound,
    CrlInvalid,
    QeIdentityMismatch,
    QeIdentitySignatureInvalid,
    QeReportSignatureInvalid,
    TcbInfoMismatch,
    TcbInfoSignatureInvalid,
    UnsupportedQuote,
)
from veil.attestation.dcap.pck import PckExtensions, pck_extensions
from veil.attestation.dcap.quote import TEE_SGX, TEE_TDX, Quote, parse_quote
from veil.attestation.dcap.tcb import TcbVerdict, qe_tcb
from veil.attestation.errors import (
    CollateralExpired,
    EvidenceSignatureInvalid,
)

Kind = Literal["sgx", "tdx"]
_EXPECTED = {
    "sgx": (TEE_SGX, "SGX", "QE"),
    "tdx": (TEE_TDX, "TDX", "TD_QE"),
}


@dataclass(frozen=True)
class DcapResult:
    """A quote whose signatures, chain and collateral all checked out; TCB matching is next."""

    quote: Quote
    pck: PckExtensions
    qe: TcbVerdict


class CollateralCheck:
    """Collateral bound to a pinned root: signatures checked once, windows at every `now`."""

    def __init__(self, collateral: Collateral, root: x509.Certificate, kind: Kind) -> None:
        self.collateral = collateral
        self.root = root
        self.kind = kind
        self._signatures_checked = False

    def check(self, now: datetime) -> None:
        if not self._signatures_checked:
            self._check_signatures()
            self._signatures_checked = True
        self._check_windows(now)

    def _check_signatures(self) -> None:
        c, root = self.collateral, self.root
        _, tcb_id, qe_id = _EXPECTED[self.kind]
        if c.tcb_info.id != tcb_id:
            raise TcbInfoMismatch(f"TCB info is for {c.tcb_info.id}, expected {tcb_id}")
        if c.qe_identity.id != qe_id:
            raise QeIdentityMismatch(f"QE identity is for {c.qe_identity.id}, expected {qe_id}")
        chains = (
            (c.tcb_info_issuer_chain, "TCB info issuer chain"),
            (c.qe_identity_issuer_chain, "QE identity issuer chain"),
            (c.pck_crl_issuer_chain, "PCK CRL issuer chain"),
        )
        linked = [(verify_links(chain, root, what=what), what) for chain, what in chains]
        check_crl_signature(c.root_ca_crl, root, "root CA CRL")
        for certs, what in linked:
            for cert in certs:
                check_not_revoked(cert, c.root_ca_crl, what)
        check_crl_signature(c.pck_crl, c.pck_crl_issuer_chain[0], "PCK CRL")
        if not _raw_ecdsa_ok(
            c.tcb_info_issuer_chain[0].public_key(), c.tcb_info_signature, c.tcb_info_text
        ):
            raise TcbInfoSignatureInvalid("TCB info signature does not verify")
        if not _raw_ecdsa_ok(
            c.qe_identity_issuer_chain[0].public_key(), c.qe_identity_signature, c.qe_identity_text
        ):
            raise QeIdentitySignatureInvalid("QE identity signature does not verify")

    def _check_windows(self, now: datetime) -> None:
        c = self.collateral
        check_crl_window(c.root_ca_crl, now=now, what="root CA CRL")
        check_crl_window(c.pck_crl, now=now, what="PCK CRL")
        for chain, what in (
            (c.tcb_info_issuer_chain, "TCB info issuer chain"),
            (c.qe_identity_issuer_chain, "QE identity issuer chain"),
            (c.pck_crl_issuer_chain, "PCK CRL issuer chain"),
        ):
            for cert in chain:
                check_validity(cert, now=now, what=what)
        for doc, what in ((c.tcb_info, "TCB info"), (c.qe_identity, "QE identity")):
            if not doc.issue_date <= now <= doc.next_update:
                raise CollateralExpired(
                    f"{what} is valid {doc.issue_date:%Y-%m-%dT%H:%M:%SZ}.."
                    f"{doc.next_update:%Y-%m-%dT%H:%M:%SZ}"
                )


def verify_dcap_quote(evidence: bytes, *, collateral: CollateralCheck, now: datetime) -> DcapResult:
    """Run checks 1-5 on a quote of `collateral.kind`; raise the failing check's error."""
    quote = parse_quote(evidence)
    tee_type, _, _ = _EXPECTED[collateral.kind]
    if quote.header.tee_type != tee_type:
        raise UnsupportedQuote(
            f"TEE type 0x{quote.header.tee_type:x} given to the {collateral.kind} verifier"
        )
    collateral.check(now)
    c = collateral.collateral

    pck_chain = load_pem_chain(quote.certification.pck_chain_pem, what="PCK chain")
    verify_chain(pck_chain, collateral.root, now=now, what="PCK chain")
    leaf = pck_chain[0]
    for cert in pck_chain:
        check_not_revoked(cert, c.root_ca_crl, "PCK chain")
        check_not_revoked(cert, c.pck_crl, "PCK chain")
    if leaf.issuer != c.pck_crl.issuer:
        raise CrlInvalid("the PCK CRL is for another CA than the PCK certificate's issuer")
    if len(pck_chain) < 2 or pck_chain[1].public_key() != c.pck_crl_issuer_chain[0].public_key():
        raise CrlInvalid("the PCK CRL is signed by another key than the PCK certificate's issuer")
    pck = pck_extensions(leaf)
    if pck.fmspc != c.tcb_info.fmspc or pck.pce_id != c.tcb_info.pce_id:
        raise TcbInfoMismatch(
            f"TCB info is for FMSPC {c.tcb_info.fmspc.hex()} / PCE {c.tcb_info.pce_id.hex()}, "
            f"the PCK certificate says {pck.fmspc.hex()} / {pck.pce_id.hex()}"
        )

    cert_data = quote.certification
    if not _raw_ecdsa_ok(leaf.public_key(), cert_data.qe_report_signature, cert_data.qe_report_raw):
        raise QeReportSignatureInvalid("QE report is not signed by the PCK key")
    binding = hashlib.sha256(quote.attestation_key + cert_data.qe_auth_data).digest()
    if cert_data.qe_report.report_data != binding + bytes(32):
        raise AttestationKeyNotBound("QE report data does not bind the attestation key")
    qe = qe_tcb(c.qe_identity, cert_data.qe_report)

    try:
        attestation_key = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), b"\x04" + quote.attestation_key
        )
    except ValueError:
        raise EvidenceSignatureInvalid("attestation key is not a P-256 point") from None
    if not _raw_ecdsa_ok(attestation_key, quote.signature, quote.signed_region):
        raise EvidenceSignatureInvalid("quote is not signed by its attestation key")
    return DcapResult(quote=quote, pck=pck, qe=qe)


def _raw_ecdsa_ok(key: object, raw_signature: bytes, data: bytes) -> bool:
    """ECDSA P-256/SHA-256 over `data` with a raw r||s signature, as DCAP encodes them."""
    if not isinstance(key, ec.EllipticCurvePublicKey) or len(raw_signature) != 64:
        return False
    r = int.from_bytes(raw_signature[:32], "big")
    s = int.from_bytes(raw_signature[32:], "big")
    try:
        key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True

"""Verify an AMD SEV-SNP attestation report and extract the guest's claims.

Checks, in order: the report parses (version ≥ 2, ECDSA P-384); the key it
names (VCEK or VLEK) has a certificate chaining to the pinned ARK through
the ASK (VCEK) or ASVK (VLEK), every certificate valid at `now` and none
revoked by the optional ARK-signed CRL; the reported TCB equals the TCB
the certificate certifies, and for a VCEK the chip id equals its hwID; the
report signature verifies under the certified key.

AMD publishes no TCB-status document like Intel's TCB info, so the status
is `UpToDate` unless a minimum TCB is configured and the reported TCB is
below it (`OutOfDate`); policies can pin SPLs through `details` as well.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

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
)
from veil.attestation.errors import CertificateChainInvalid, EvidenceSignatureInvalid
from veil.attestation.snp.certs import (
    KeyCertificateInfo,
    key_certificate_info,
    load_certificate,
    verify_amd_link,
)
from veil.attestation.snp.errors import SigningKeyUnavailable, VcekMismatch
from veil.attestation.snp.report import (
    SIGNING_KEY_VCEK,
    SIGNING_KEY_VLEK,
    AttestationReport,
    TcbVersion,
    parse_report,
)
from veil.attestation.verifier import Claims

KeyLookup = Callable[[AttestationReport], bytes]
"""Given a parsed (unverified) report, return the DER of the VCEK for its chip and TCB."""


class SnpVerifier:
    """Checks SNP reports against a pinned ARK and supplied VCEK/VLEK certificates."""

    tee = "snp"

    def __init__(
        self,
        *,
        ark_pem: bytes,
        ask_pem: bytes | None = None,
        vcek_der: bytes | None = None,
        vcek_lookup: KeyLookup | None = None,
        asvk_pem: bytes | None = None,
        vlek_der: bytes | None = None,
        crl_der: bytes | None = None,
        min_tcb: TcbVersion | None = None,
    ) -> None:
        self._ark = load_certificate(ark_pem, "ARK")
        self._ask = load_certificate(ask_pem, "ASK") if ask_pem is not None else None
        self._asvk = load_certificate(asvk_pem, "ASVK") if asvk_pem is not None else None
        self._vcek_der = vcek_der
        self._vcek_lookup = vcek_lookup
        self._vlek_der = vlek_der
        self._crl = x509.load_der_x509_crl(crl_der) if crl_der is not None else None
        self._min_tcb = min_tcb
        self._checked: dict[bytes, tuple[x509.Certificate, KeyCertificateInfo]] = {}
        self._roots_checked = False

    def verify(self, evidence: bytes, *, now: datetime) -> Claims:
        report = parse_report(evidence)
        key_cert, info, kind = self._signing_certificate(report, now)
        reported = TcbVersion.parse(report.reported_tcb_raw, turin=info.turin)
        if reported != info.tcb:
            raise VcekMismatch(f"reported TCB {reported} but the {kind} certifies {info.tcb}")
        if kind == "VCEK" and not report.chip_id_masked and info.hw_id != report.chip_id:
            raise VcekMismatch("chip id differs from the VCEK's hwID")
        self._check_signature(report, key_cert)
        return self._claims(report, reported, info, kind)

    def _signing_certificate(
        self, report: AttestationReport, now: datetime
    ) -> tuple[x509.Certificate, KeyCertificateInfo, str]:
        if not self._roots_checked:
            verify_amd_link(self._ark, self._ark, "ARK (self-signed)")
            for ca, name in ((self._ask, "ASK"), (self._asvk, "ASVK")):
                if ca is not None:
                    verify_amd_link(ca, self._ark, name)
            if self._crl is not None:
                check_crl_signature(self._crl, self._ark, "AMD CRL")
            self._roots_checked = True
        if report.signing_key == SIGNING_KEY_VCEK:
            kind, issuer = "VCEK", self._ask
            key_der = self._vcek_der
            if key_der is None and self._vcek_lookup is not None:
                key_der = self._vcek_lookup(report)
        elif report.signing_key == SIGNING_KEY_VLEK:
            kind, issuer, key_der = "VLEK", self._asvk, self._vlek_der
        else:
            raise SigningKeyUnavailable(f"report names signing key kind {report.signing_key}")
        if issuer is None or key_der is None:
            raise SigningKeyUnavailable(f"report is signed by a {kind}; none was configured")
        cached = self._checked.get(key_der)
        if cached is None:
            cert = load_certificate(key_der, kind)
            verify_amd_link(cert, issuer, kind)
            cached = (cert, key_certificate_info(cert))
            self._checked[key_der] = cached
        cert, info = cached
        for c, name in ((self._ark, "ARK"), (issuer, "ASK/ASVK"), (cert, kind)):
            check_validity(c, now=now, what=name)
        if self._crl is not None:
            check_crl_window(self._crl, now=now, what="AMD CRL")
            check_not_revoked(issuer, self._crl, "ASK/ASVK")
        return cert, info, kind

    @staticmethod
    def _check_signature(report: AttestationReport, cert: x509.Certificate) -> None:
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
            raise CertificateChainInvalid("VCEK/VLEK key is not ECDSA P-384")
        signature = encode_dss_signature(report.signature_r, report.signature_s)
        try:
            key.verify(signature, report.signed_region, ec.ECDSA(hashes.SHA384()))
        except InvalidSignature:
            raise EvidenceSignatureInvalid("SNP report signature does not verify") from None

    def _claims(
        self, report: AttestationReport, reported: TcbVersion, info: KeyCertificateInfo, kind: str
    ) -> Claims:
        status = "UpToDate"
        if self._min_tcb is not None and not _at_least(reported, self._min_tcb):
            status = "OutOfDate"
        details = {
            "version": str(report.version),
            "signing_key": kind,
            "product": info.product,
            "guest_svn": str(report.guest_svn),
            "policy": f"{report.policy:016x}",
            "vmpl": str(report.vmpl),
            "platform_info": f"{report.platform_info:016x}",
            "family_id": report.family_id.hex(),
            "image_id": report.image_id.hex(),
            "host_data": report.host_data.hex(),
            "id_key_digest": report.id_key_digest.hex(),
            "author_key_digest": report.author_key_digest.hex(),
            "report_id": report.report_id.hex(),
            "chip_id": report.chip_id.hex(),
            "reported_tcb": report.reported_tcb_raw[::-1].hex(),
            "current_tcb": report.current_tcb_raw[::-1].hex(),
            "committed_tcb": report.committed_tcb_raw[::-1].hex(),
            "launch_tcb": report.launch_tcb_raw[::-1].hex(),
            "bootloader_spl": str(reported.bootloader),
            "tee_spl": str(reported.tee),
            "snp_spl": str(reported.snp),
            "microcode_spl": str(reported.microcode),
        }
        if info.csp_id is not None:
            details["csp_id"] = info.csp_id
        return Claims(
            tee=self.tee,
            measurement=report.measurement.hex(),
            report_data=report.report_data,
            debug=report.debug,
            tcb_status=status,
            details=details,
        )


def _at_least(tcb: TcbVersion, minimum: TcbVersion) -> bool:
    pairs = [
        (tcb.bootloader, minimum.bootloader),
        (tcb.tee, minimum.tee),
        (tcb.snp, minimum.snp),
        (tcb.microcode, minimum.microcode),
    ]
    if minimum.fmc is not None:
        pairs.append((tcb.fmc or 0, minimum.fmc))
    return all(have >= need for have, need in pairs)

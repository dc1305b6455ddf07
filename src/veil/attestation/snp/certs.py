"""AMD's certificate chain (ARK → ASK → VCEK, or ARK → ASVK → VLEK) and its extensions.

Every link is RSASSA-PSS with SHA-384, the algorithm AMD's KDS uses; any
other algorithm is refused rather than trusted. The VCEK/VLEK extensions
(OIDs under 1.3.6.1.4.1.3704.1) carry the TCB the key was derived for and,
for a VCEK, the chip id (hwID); `cryptography` leaves them opaque, so they
are read with `veil.attestation.der`.

Milan VCEKs from the KDS carry a serial number that is zero or negative,
which RFC 5280 forbids and `cryptography` 48 flags with a deprecation
warning (and says a future release will refuse). Veil never uses the VCEK
serial, so `load_vcek` silences exactly that warning.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.utils import CryptographyDeprecationWarning

from veil.attestation import der
from veil.attestation.certchain import PARSE_ERRORS, parse_fully
from veil.attestation.errors import CertificateChainInvalid
from veil.attestation.snp.report import TcbVersion

_AMD = "1.3.6.1.4.1.3704.1"
_PRODUCT_NAME = _AMD + ".2"
_BL_SPL = _AMD + ".3.1"
_TEE_SPL = _AMD + ".3.2"
_SNP_SPL = _AMD + ".3.3"
_UCODE_SPL = _AMD + ".3.8"
_FMC_SPL = _AMD + ".3.9"
_HW_ID = _AMD + ".4"
_CSP_ID = _AMD + ".5"


@dataclass(frozen=True)
class KeyCertificateInfo:
    """What a VCEK or VLEK certificate certifies about the key."""

    product: str
    tcb: TcbVersion
    hw_id: bytes | None
    csp_id: str | None

    @property
    def turin(self) -> bool:
        return self.product.startswith("Turin")


def load_certificate(data: bytes, what: str) -> x509.Certificate:
    """A DER or PEM certificate, tolerating the VCEK's non-positive serial number."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=".*serial number.*", category=CryptographyDeprecationWarning
            )
            if data.lstrip().startswith(b"-----BEGIN"):
                cert = x509.load_pem_x509_certificate(data)
            else:
                cert = x509.load_der_x509_certificate(data)
            parse_fully(cert)
            _ = cert.serial_number  # warns (ignored here) for the Milan VCEK; never used
    except PARSE_ERRORS as exc:
        raise CertificateChainInvalid(f"{what} is not a certificate: {exc}") from None
    return cert


def verify_amd_link(cert: x509.Certificate, issuer: x509.Certificate, what: str) -> None:
    """`issuer` signed `cert` with RSASSA-PSS/SHA-384 (the issuer names must match too)."""
    params = cert.signature_algorithm_parameters
    if not isinstance(params, padding.PSS) or not isinstance(
        cert.signature_hash_algorithm, hashes.SHA384
    ):
        raise CertificateChainInvalid(f"{what} is not signed with RSASSA-PSS/SHA-384")
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # InvalidSignature, ValueError (names), TypeError (key kind)
        raise CertificateChainInvalid(
            f"{what} is not signed by {issuer.subject.rfc4514_string()}"
        ) from None


def key_certificate_info(cert: x509.Certificate) -> KeyCertificateInfo:
    """Read the TCB, product name, hwID and CSP id extensions of a VCEK/VLEK."""
    values: dict[str, bytes] = {}
    try:
        for ext in cert.extensions:
            if isinstance(ext.value, x509.UnrecognizedExtension):
                values[ext.oid.dotted_string] = ext.value.value
    except ValueError:  # parsed lazily by cryptography; a corrupt extension surfaces here
        raise CertificateChainInvalid("VCEK/VLEK extensions do not parse") from None
    try:
        product = _string(values.get(_PRODUCT_NAME)) or ""
        turin = product.startswith("Turin")
        tcb = TcbVersion(
            bootloader=_int(values, _BL_SPL),
            tee=_int(values, _TEE_SPL),
            snp=_int(values, _SNP_SPL),
            microcode=_int(values, _UCODE_SPL),
            fmc=_int(values, _FMC_SPL) if turin else None,
        )
        hw_id = values.get(_HW_ID)
        if hw_id is not None and len(hw_id) != 64:
            hw_id = der.read_single(hw_id, der.OCTET_STRING).value  # wrapped as an OCTET STRING
        return KeyCertificateInfo(product, tcb, hw_id, _string(values.get(_CSP_ID)))
    except (der.DerError, KeyError) as exc:
        raise CertificateChainInvalid(f"VCEK/VLEK extensions do not parse: {exc!r}") from None


def _int(values: dict[str, bytes], oid: str) -> int:
    number = der.decode_int(der.read_single(values[oid], der.INTEGER).value)
    if number > 255:
        raise der.DerError(f"SPL {number} out of range")
    return number


def _string(value: bytes | None) -> str | None:
    if value is None:
        return None
    return der.read_single(value, der.IA5_STRING).value.decode("ascii", "replace")

"""Certificate chains to a pinned root, and CRL checks (Intel DCAP and AMD SEV-SNP).

Deliberately explicit rather than a general RFC 5280 path builder: vendor
chains are short and fixed (PCK leaf → PCK CA → Intel root; VCEK → ASK →
ARK), so each
link's issuer, signature, CA flag and validity window is checked in turn,
and the top of every chain must be the one pinned root (byte for byte, or
a certificate it signed directly).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding

from veil.attestation import der
from veil.attestation.errors import (
    CertificateChainInvalid,
    CertificateExpired,
    CertificateRevoked,
    CollateralExpired,
    CrlInvalid,
)

PARSE_ERRORS = (
    x509.DuplicateExtension,
    der.DerError,
    ValueError,
    KeyError,
    TypeError,
    x509.InvalidVersion,
    UnsupportedAlgorithm,
    Warning,
)
"""What `cryptography` may raise (or warn, when warnings are errors) on a corrupt certificate.

It parses most fields lazily, so a flipped byte can surface on first access
of a subject, an extension or the version, not at load time."""


def load_pem_chain(data: bytes, *, what: str) -> list[x509.Certificate]:
    """Load PEM certificates and parse every field now, so corruption is one typed error.

    Serial numbers must be positive (RFC 5280); unlike AMD's VCEK, Intel's
    certificates always are.
    """
    try:
        certs = x509.load_pem_x509_certificates(data)
        for cert in certs:
            parse_fully(cert)
            check_signature_encoding(cert)
            if cert.serial_number <= 0:
                raise ValueError("non-positive serial number")
    except PARSE_ERRORS as exc:
        raise CertificateChainInvalid(f"{what}: certificate does not parse ({exc})") from None
    return certs


def parse_fully(cert: x509.Certificate) -> None:
    """Touch every lazily parsed field (raises one of PARSE_ERRORS if any is corrupt)."""
    cert.subject.rfc4514_string()
    cert.issuer.rfc4514_string()
    _ = (cert.version, cert.not_valid_before_utc, cert.not_valid_after_utc)
    _ = (cert.signature_hash_algorithm, cert.signature_algorithm_parameters)
    list(cert.extensions)
    cert.public_key()


def check_signature_encoding(cert: x509.Certificate) -> None:
    """The signature BIT STRING must have no unused bits, as DER for X.509 requires.

    `cryptography` accepts a non-zero unused-bits count and still verifies the
    signature, which would let a byte of a "signed" chain change unnoticed.
    """
    outer = der.read_all(der.read_single(cert.public_bytes(Encoding.DER), der.SEQUENCE).value)
    if len(outer) != 3 or outer[2].tag != 0x03 or outer[2].value[:1] != b"\x00":
        raise der.DerError("certificate signature is not a BIT STRING with 0 unused bits")


def verify_chain(
    chain: Sequence[x509.Certificate], root: x509.Certificate, *, now: datetime, what: str
) -> None:
    """Check `chain` (leaf first; the root itself may be included) leads to `root` at `now`."""
    links = verify_links(chain, root, what=what)
    for cert in [*links, root]:
        check_validity(cert, now=now, what=what)


def verify_links(
    chain: Sequence[x509.Certificate], root: x509.Certificate, *, what: str
) -> list[x509.Certificate]:
    """Check each link's issuer, CA flag and signature up to `root`; return the non-root certs.

    Validity windows are `check_validity`'s job, so that a verifier can do
    these signature checks once per collateral and the window checks per quote.
    """
    links = [cert for cert in chain if cert != root]
    if not links:
        raise CertificateChainInvalid(f"{what}: empty certificate chain")
    if len(links) != len(chain) - (1 if chain[-1] == root else 0):
        raise CertificateChainInvalid(f"{what}: the root appears inside the chain")
    issuers = [*links[1:], root]
    for cert, issuer in zip(links, issuers, strict=True):
        if issuer is not root and not _is_ca(issuer):
            raise CertificateChainInvalid(f"{what}: {issuer.subject.rfc4514_string()} is not a CA")
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            raise CertificateChainInvalid(
                f"{what}: {cert.subject.rfc4514_string()} is not signed by "
                f"{issuer.subject.rfc4514_string()}"
            ) from None
    return links


def check_validity(cert: x509.Certificate, *, now: datetime, what: str) -> None:
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise CertificateExpired(
            f"{what}: {cert.subject.rfc4514_string()} is valid "
            f"{cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}..{cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}"
        )


def check_crl_signature(
    crl: x509.CertificateRevocationList, issuer: x509.Certificate, what: str
) -> None:
    """The CRL names `issuer` and is signed by its key."""
    if crl.issuer != issuer.subject:
        raise CrlInvalid(
            f"{what} is issued by {crl.issuer.rfc4514_string()}, not by "
            f"{issuer.subject.rfc4514_string()}"
        )
    try:
        valid = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise CrlInvalid(f"{what} signature does not verify")


def check_crl_window(crl: x509.CertificateRevocationList, *, now: datetime, what: str) -> None:
    next_update = crl.next_update_utc
    if next_update is None:
        raise CollateralExpired(f"{what} has no nextUpdate, so it is never known to be current")
    if not crl.last_update_utc <= now <= next_update:
        raise CollateralExpired(
            f"{what} is valid {crl.last_update_utc:%Y-%m-%dT%H:%M:%SZ}.."
            f"{next_update:%Y-%m-%dT%H:%M:%SZ}"
        )


def check_not_revoked(
    cert: x509.Certificate, crl: x509.CertificateRevocationList, what: str
) -> None:
    if crl.issuer != cert.issuer:
        return  # this CRL is about another CA's certificates
    if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
        raise CertificateRevoked(
            f"{what}: {cert.subject.rfc4514_string()} (serial {cert.serial_number:x}) is revoked"
        )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False
    except ValueError:  # extensions are parsed lazily; a corrupt one surfaces here
        raise CertificateChainInvalid("certificate extensions do not parse") from None

"""Errors raised while verifying evidence.

Every verifier failure is an `EvidenceRefused`; the subclass names the check
that failed, so operators (`veil evidence verify`) see the reason.
"""

from __future__ import annotations

from veil.trusted.errors import Refused


class EvidenceRefused(Refused):
    """Evidence that does not prove what it claims."""


class UnknownTeeType(EvidenceRefused):
    """No verifier is registered for this TEE type."""


class MalformedEvidence(EvidenceRefused):
    """Evidence bytes that do not parse (truncated, wrong version, bad lengths)."""


class EvidenceSignatureInvalid(EvidenceRefused):
    """The evidence signature does not verify under its attestation key."""


class CertificateChainInvalid(EvidenceRefused):
    """A certificate chain does not lead to the pinned root, or a link's signature fails."""


class CertificateRevoked(EvidenceRefused):
    """A certificate in the chain is listed on a CRL."""


class CollateralExpired(EvidenceRefused):
    """Collateral (CRL, TCB info, QE identity, certificate) outside its validity window."""


class CollateralInvalid(EvidenceRefused):
    """Collateral whose signature, issuer or content does not check out."""


class MeasurementMismatch(EvidenceRefused):
    """The measured code is not one the reference values accept."""


class ReportDataMismatch(EvidenceRefused):
    """The report data does not bind the keys and nonce it must bind."""


class NonceInvalid(EvidenceRefused):
    """The verifier nonce in the evidence was never issued, has expired, or was already used."""


class TcbStatusRefused(EvidenceRefused):
    """The platform's TCB status or advisories are below what the policy accepts."""


class DebugRefused(EvidenceRefused):
    """A debug enclave, which the policy does not allow."""


class TokenInvalid(EvidenceRefused):
    """An attestation result token that is expired, malformed or signed by an unknown key."""


class CertificateExpired(CollateralExpired):
    """A certificate in a chain is outside its notBefore..notAfter window at 'now'."""


class CrlInvalid(CollateralInvalid):
    """A CRL that is not signed by the CA it claims to come from, or is for another CA."""

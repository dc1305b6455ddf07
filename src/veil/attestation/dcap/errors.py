"""Refusals specific to Intel DCAP quotes, each named for the check that failed."""

from __future__ import annotations

from veil.attestation.errors import (
    CertificateChainInvalid,
    CollateralInvalid,
    CrlInvalid,
    EvidenceRefused,
    EvidenceSignatureInvalid,
    MalformedEvidence,
)

__all__ = [
    "AttestationKeyNotBound",
    "CrlInvalid",
    "PckExtensionsInvalid",
    "QeIdentityMismatch",
    "QeIdentitySignatureInvalid",
    "QeReportSignatureInvalid",
    "TcbInfoMismatch",
    "TcbInfoSignatureInvalid",
    "TcbLevelNotFound",
    "TdxModuleMismatch",
    "UnsupportedQuote",
]


class UnsupportedQuote(MalformedEvidence):
    """A well-formed quote of a kind Veil does not verify (version, key type, cert data type).

    Unlike plain `MalformedEvidence`, the bytes parse; Veil just cannot check them offline.
    """


class QeReportSignatureInvalid(EvidenceSignatureInvalid):
    """The QE report is not signed by the PCK certificate's key.

    Contrast with `EvidenceSignatureInvalid` itself: that is the quote body
    not signed by the attestation key.
    """


class AttestationKeyNotBound(EvidenceRefused):
    """The QE report data is not SHA-256(attestation key || QE auth data) followed by zeros.

    The signature checks may all pass, yet the attestation key was not the one the QE vouched for.
    """


class PckExtensionsInvalid(CertificateChainInvalid):
    """The PCK certificate lacks Intel's SGX extensions or they do not parse."""


class TcbInfoSignatureInvalid(CollateralInvalid):
    """The TCB info JSON text is not signed by the TCB signing certificate."""


class QeIdentitySignatureInvalid(CollateralInvalid):
    """The QE identity JSON text is not signed by the TCB signing certificate."""


class TcbInfoMismatch(CollateralInvalid):
    """TCB info for another platform: its FMSPC, PCE ID or TEE kind differ from the quote's."""


class QeIdentityMismatch(EvidenceRefused):
    """The quoting enclave is not the one the QE identity describes.

    MRSIGNER, ISVPRODID, MISCSELECT or ATTRIBUTES (under their masks) differ,
    or the identity is for the other TEE kind's QE.
    """


class TcbLevelNotFound(EvidenceRefused):
    """The platform's (or QE's) SVNs are below every TCB level Intel lists: not supported."""


class TdxModuleMismatch(EvidenceRefused):
    """MRSIGNERSEAM or SEAMATTRIBUTES do not match the TDX module identity in the TCB info."""

"""Refusals specific to AMD SEV-SNP reports."""

from __future__ import annotations

from veil.attestation.errors import EvidenceRefused, MalformedEvidence


class UnsupportedReport(MalformedEvidence):
    """A well-formed report Veil does not verify (version 1, another signature algorithm)."""


class VcekMismatch(EvidenceRefused):
    """The report's reported TCB or chip id differ from what the VCEK/VLEK certificate certifies.

    The signature may verify, but the key was certified for another chip or
    TCB, so the report does not prove the platform is at the TCB it claims.
    """


class SigningKeyUnavailable(EvidenceRefused):
    """The report is signed by a key kind (VCEK or VLEK) the verifier has no certificate for."""

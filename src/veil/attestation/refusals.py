"""The refusals of the trusted core and of the verifiers, by class name.

Services answer a refusal over HTTP with its class name; their clients
rebuild it from a registry so callers handle a remote refusal like a local
one. This is the part of every such registry that all sides share: the
classes defined in `veil.trusted` and `veil.attestation`, which the KMS,
the host and the client SDK can all import. Each service adds its own
(`veil.kms.errors.KMS_ERRORS`). Written out, not discovered: a class added
without an entry fails `tests/kms/test_errors.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from veil.attestation import errors as evidence
from veil.attestation.dcap import errors as dcap
from veil.attestation.policy import PolicyRefused
from veil.attestation.sim import EvidenceStale
from veil.attestation.snp import errors as snp
from veil.trusted import edge, errors


def by_name(*classes: type[errors.VeilError]) -> dict[str, type[errors.VeilError]]:
    """A registry of `classes` keyed by class name (names are unique across Veil)."""
    return {cls.__name__: cls for cls in classes}


REFUSALS: Final[Mapping[str, type[errors.VeilError]]] = {
    **edge.REFUSALS,  # what may cross the enclave's edge, with the host's rebuild of it
    **by_name(
        errors.VeilError,
        errors.Refused,
        errors.NotFound,
        errors.InternalError,
        errors.FunctionError,
        PolicyRefused,
        evidence.EvidenceRefused,
        evidence.UnknownTeeType,
        evidence.MalformedEvidence,
        evidence.EvidenceSignatureInvalid,
        evidence.CertificateChainInvalid,
        evidence.CertificateRevoked,
        evidence.CollateralExpired,
        evidence.CollateralInvalid,
        evidence.MeasurementMismatch,
        evidence.ReportDataMismatch,
        evidence.NonceInvalid,
        evidence.TcbStatusRefused,
        evidence.DebugRefused,
        evidence.TokenInvalid,
        evidence.CertificateExpired,
        evidence.CrlInvalid,
        EvidenceStale,
        dcap.UnsupportedQuote,
        dcap.QeReportSignatureInvalid,
        dcap.AttestationKeyNotBound,
        dcap.PckExtensionsInvalid,
        dcap.TcbInfoSignatureInvalid,
        dcap.QeIdentitySignatureInvalid,
        dcap.TcbInfoMismatch,
        dcap.QeIdentityMismatch,
        dcap.TcbLevelNotFound,
        dcap.TdxModuleMismatch,
        snp.UnsupportedReport,
        snp.VcekMismatch,
        snp.SigningKeyUnavailable,
    ),
}


def http_status(exc: errors.VeilError) -> int:
    """The HTTP status every Veil service answers a refusal with, by its kind (not its name):
    400 for bytes that do not parse, 404 for unknown names, 403 for other refusals."""
    if isinstance(exc, errors.MalformedMessage):
        return 400
    if isinstance(exc, errors.NotFound):
        return 404
    if isinstance(exc, errors.Refused):
        return 403
    return 500

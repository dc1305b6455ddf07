"""Errors an attester raises when the TEE interface does not give evidence."""

from __future__ import annotations

from veil.trusted.errors import VeilError


class AttesterError(VeilError):
    """The TEE's evidence interface failed; no evidence was produced."""


class TeeUnavailable(AttesterError):
    """The interface is absent (no configfs-tsm, no /dev/attestation): not in this TEE."""


class ProviderMismatch(AttesterError):
    """The interface is served by another TEE than the attester was built for (SNP, not TDX)."""


class ReportRaced(AttesterError):
    """configfs-tsm's generation moved mid-report: the outblob may bind another writer's data."""

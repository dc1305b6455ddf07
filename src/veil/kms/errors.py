"""The KMS's refusals, and the registry its HTTP client rebuilds them from.

The KMS answers every refusal as JSON `{"error": <class name>, "detail": ...}`
(`veil.kms.server`). `KMS_ERRORS` names every class it may answer with, so
`veil.kms.remote` raises the same class a caller would get from the broker
in its own process; a name outside the registry becomes `RemoteError`. The
registry is written out, not discovered: a class added without an entry
here fails `tests/kms/test_errors.py`, not a caller at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from veil.attestation.refusals import REFUSALS, by_name
from veil.trusted import errors


class KmsRefused(errors.Refused):
    """A request the KMS will not act on; subclasses say why (to the tenant, not the host)."""


class UnknownTenant(KmsRefused, errors.NotFound):
    """A registration from a tenant this KMS has never registered."""


class NamespaceViolation(KmsRefused):
    """A tenant registering a function outside its own `tenant/` namespace."""


class UnknownFunctionName(KmsRefused, errors.NotFound):
    """A key request or record lookup for a function that is not registered."""


class VersionNotRetained(KmsRefused, errors.NotFound):
    """A record or key request for `NAME@N` where N was pruned (retention), or never was.

    Unlike `UnknownFunctionName`, the function may exist: only that version is gone."""


class DigestNotRegistered(KmsRefused):
    """A key request whose bundle digest is not the one registered for that function."""


class WrongKms(KmsRefused):
    """An enclave whose attestation binds another KMS's key."""


class StaleRegistration(KmsRefused):
    """A registration outside the time window, or not newer than the one in force: a replay."""


class StaleSecretWrite(KmsRefused):
    """A `veil secret` write or listing outside the time window, or a write not newer than
    the last one to that secret: a replay (the secret's `StaleRegistration`)."""


class SimRefusedInProduction(KmsRefused):
    """A policy that accepts the sim TEE, sent to a KMS running in production mode."""


class RemoteError(errors.VeilError):
    """A service answered with an error this client does not know by name."""


KMS_ERRORS: Final[Mapping[str, type[errors.VeilError]]] = {
    **REFUSALS,
    **by_name(
        RemoteError,
        KmsRefused,
        UnknownTenant,
        NamespaceViolation,
        UnknownFunctionName,
        VersionNotRetained,
        DigestNotRegistered,
        WrongKms,
        StaleRegistration,
        StaleSecretWrite,
        SimRefusedInProduction,
    ),
}
"""Every class the KMS and verifier service may answer with, by class name (the shared
refusals of the trusted core and the verifiers, and the KMS's own)."""


def rebuild(name: str, detail: str) -> errors.VeilError:
    """The refusal a service answered with, as its own class; `RemoteError` if unknown."""
    cls = KMS_ERRORS.get(name)
    return cls(detail) if cls is not None else RemoteError(f"{name}: {detail}")

"""The enclave's one error translator: what the host may learn when a call fails.

Fail-closed: an exception whose class is exactly one of `REFUSALS` crosses
as its class name and that class's fixed `public_message`; anything else
(a bug, a sandbox fault, an error whose text quotes decrypted data) crosses
as `InternalError` with no detail. Exception text never leaves, so no
plaintext can. The list is documented in docs/design/0002-protocol.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from veil.trusted import bundle, clock, enclave, errors, replay

REFUSALS: Final[Mapping[str, type[errors.Refused]]] = MappingProxyType(
    {
        cls.__name__: cls
        for cls in (
            *(errors.MalformedMessage, errors.MessageTooLarge, errors.BadSignature),
            *(errors.DecryptionFailed, bundle.BundleRefused, enclave.GrantRefused),
            *(enclave.NotAttested, enclave.UnknownFunction, enclave.WrongEnclave),
            *(replay.RequestExpired, replay.ReplayedRequest, replay.ReplayWindowFull),
            *(enclave.StaleVersion, enclave.RollbackRefused, enclave.GrantExpired),
            *(clock.ClockNotAnchored, clock.ClockDrift, clock.StaleAnchor),
        )
    }
)
"""Every refusal that may cross to the host, by the name that crosses."""


def to_host(exc: BaseException) -> tuple[str, str]:
    """The (class name, message) the host is told for `exc`: fixed strings only."""
    cls = REFUSALS.get(type(exc).__name__, errors.InternalError)
    if type(exc) is not cls:
        cls = errors.InternalError
    return cls.__name__, cls.public_message

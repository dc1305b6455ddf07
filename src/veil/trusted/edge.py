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

from veil.trusted.bundle import BundleRefused
from veil.trusted.enclave import GrantRefused, NotAttested, UnknownFunction
from veil.trusted.errors import (
    BadSignature,
    DecryptionFailed,
    InternalError,
    MalformedMessage,
    MessageTooLarge,
    Refused,
    VeilError,
)
from veil.trusted.replay import ReplayedRequest, ReplayWindowFull, RequestExpired

REFUSALS: Final[Mapping[str, type[Refused]]] = MappingProxyType(
    {
        cls.__name__: cls
        for cls in (
            MalformedMessage,
            MessageTooLarge,
            BadSignature,
            DecryptionFailed,
            BundleRefused,
            GrantRefused,
            NotAttested,
            UnknownFunction,
            RequestExpired,
            ReplayedRequest,
            ReplayWindowFull,
        )
    }
)
"""Every refusal that may cross to the host, by the name that crosses."""

INTERNAL: Final = (InternalError.__name__, InternalError.public_message)


def to_host(exc: BaseException) -> tuple[str, str]:
    """The (class name, message) the host is told for `exc`: fixed strings only."""
    cls = REFUSALS.get(type(exc).__name__)
    if cls is not None and type(exc) is cls:
        return cls.__name__, cls.public_message
    return INTERNAL


def rebuild(name: str) -> VeilError:
    """On the host: the error an enclave reply names, with its public message."""
    cls = REFUSALS.get(name, InternalError)
    return cls(cls.public_message)

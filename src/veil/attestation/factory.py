"""Pick the verifier for a TEE type; an unknown type fails loudly.

Each plug-in has one constructor here, taking keyword configuration (pinned
roots, collateral, the sim host keys ...). Each imports its plug-in inside,
so that verifying sim evidence never loads the DCAP parsers, and so on;
the table is typed, so a misspelt plug-in is an import error in the tests,
not a lookup that fails in production.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from veil.attestation.errors import UnknownTeeType
from veil.attestation.verifier import Verifier


def _sim(**config: Any) -> Verifier:
    from veil.attestation.sim import SimVerifier

    return SimVerifier(**config)


def _sgx(**config: Any) -> Verifier:
    from veil.attestation.sgx import SgxVerifier

    return SgxVerifier(**config)


def _tdx(**config: Any) -> Verifier:
    from veil.attestation.tdx import TdxVerifier

    return TdxVerifier(**config)


def _snp(**config: Any) -> Verifier:
    from veil.attestation.snp import SnpVerifier

    return SnpVerifier(**config)


PLUGINS: Final[Mapping[str, Callable[..., Verifier]]] = {
    "sim": _sim,
    "sgx": _sgx,
    "tdx": _tdx,
    "snp": _snp,
}
"""TEE type to the constructor of its verifier."""


def verifier_for(tee: str, **config: Any) -> Verifier:
    """Build the verifier for `tee` from its plug-in, configured by `config`."""
    try:
        constructor = PLUGINS[tee]
    except KeyError:
        raise UnknownTeeType(
            f"no verifier for TEE type {tee!r}; known: {', '.join(sorted(PLUGINS))}"
        ) from None
    return constructor(**config)

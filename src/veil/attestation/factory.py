"""Pick the verifier for a TEE type; an unknown type fails loudly.

Each plug-in registers a constructor taking keyword configuration (pinned
roots, collateral, the sim host keys ...). Constructors are imported lazily
so that verifying sim evidence never loads the DCAP parsers, and so on.
"""

from __future__ import annotations

import importlib
from typing import Any

from veil.attestation.errors import UnknownTeeType
from veil.attestation.verifier import Verifier

PLUGINS: dict[str, str] = {
    "sim": "veil.attestation.sim:SimVerifier",
    "sgx": "veil.attestation.sgx:SgxVerifier",
    "tdx": "veil.attestation.tdx:TdxVerifier",
    "snp": "veil.attestation.snp:SnpVerifier",
}
"""TEE type to "module:constructor"."""


def verifier_for(tee: str, **config: Any) -> Verifier:
    """Build the verifier for `tee` from its plug-in, configured by `config`."""
    try:
        target = PLUGINS[tee]
    except KeyError:
        raise UnknownTeeType(
            f"no verifier for TEE type {tee!r}; known: {sorted(PLUGINS)}"
        ) from None
    module_name, _, attr = target.partition(":")
    constructor = getattr(importlib.import_module(module_name), attr)
    verifier: Verifier = constructor(**config)
    return verifier

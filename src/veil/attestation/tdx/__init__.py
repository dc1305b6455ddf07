"""Intel TDX DCAP quotes (versions 4 and 5): the `tdx` verifier plug-in."""

from veil.attestation.tdx.verifier import TdxVerifier

__all__ = ["TdxVerifier"]

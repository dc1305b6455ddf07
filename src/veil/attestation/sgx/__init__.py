"""Intel SGX DCAP quotes (version 3): the `sgx` verifier plug-in."""

from veil.attestation.sgx.verifier import SgxVerifier

__all__ = ["SgxVerifier"]

"""AMD SEV-SNP attestation reports (version 2 and later): the `snp` verifier plug-in."""

from veil.attestation.snp.verifier import SnpVerifier

__all__ = ["SnpVerifier"]

"""Loading the pinned Intel SGX Root CA, the one trust anchor for SGX and TDX quotes."""

from __future__ import annotations

from cryptography import x509

from veil.attestation.errors import CertificateChainInvalid


def load_root(root: bytes | x509.Certificate) -> x509.Certificate:
    """Accept the root as a certificate, DER or PEM bytes (caller misuse raises ValueError)."""
    if isinstance(root, x509.Certificate):
        return root
    try:
        if root.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(root)
        return x509.load_der_x509_certificate(root)
    except ValueError as exc:
        raise CertificateChainInvalid(f"pinned root is not a certificate: {exc}") from None

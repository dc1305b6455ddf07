"""What a deploy sends: the tenant-signed registration and the bundle, its code sealed."""

from __future__ import annotations

import cbor2

from veil.attestation.policy import Policy
from veil.registration import Registration, SealKey
from veil.trusted.bundle import Bundle, SealedBundle, SignedBundle
from veil.trusted.crypto import hazmat
from veil.trusted.crypto.signing import SigningKey


def deploy_body(
    bundle: Bundle,
    tenant: str,
    key: SigningKey,
    policy: Policy,
    suite: hazmat.Suite | None = None,
    *,
    seal_key: SealKey,
    secrets: dict[str, bytes] | None = None,
    log_key: bytes = b"",
) -> bytes:
    """A deploy: the signed registration and the bundle, its code sealed under a fresh code key.

    The code key, `secrets` and the tenant's `log_key` (public: what the
    function prints is sealed to it) travel only inside the registration,
    sealed to the KMS's `seal_key`; the host sees the manifest, digest and sizes.
    """
    registration = Registration(
        tenant,
        bundle.manifest.name,
        bundle.digest,
        policy,
        suite or hazmat.Suite(bundle.manifest.suite),
        secrets or {},
        log_key=log_key,
    )
    sealed = SealedBundle.seal(SignedBundle.sign(bundle, key), registration.code_key)
    return cbor2.dumps(
        {"registration": registration.sign(key, seal_key), "bundle": sealed.to_bytes()}
    )

"""What a client trusts, and nothing else: the KMS's keys and the verifier keys."""

from __future__ import annotations

from dataclasses import dataclass

from veil.registration import SealKey
from veil.trusted.crypto.signing import VerifyKey


@dataclass(frozen=True)
class TrustAnchors:
    kms_key: VerifyKey
    verifier_keys: tuple[VerifyKey, ...]
    measurements: tuple[str, ...] = ()
    """If set, receipts must come from an enclave with one of these measurements."""
    allow_sim: bool = False
    """Accept receipts from sim enclaves (which prove nothing about hardware)."""
    kms_seal_key: SealKey | None = None
    """The KMS's key that deploys seal code keys and secrets to; needed to deploy, not to invoke."""

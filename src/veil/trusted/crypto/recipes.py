"""Named recipes, the only way code outside `veil.trusted.crypto` seals or opens anything.

Each names what it protects; raw HPKE and AEAD stay in `hazmat` (a test fences them).
"""

from __future__ import annotations

from typing import Final

from veil.trusted.crypto.hazmat import HpkePrivateKey, Suite, aead_open, aead_seal, hpke_open
from veil.trusted.crypto.hazmat import hpke_seal as _hpke_seal
from veil.trusted.crypto.hazmat import new_aead_key as new_symmetric_key  # noqa: F401

_AT_REST: Final = b"veil/kms-at-rest/v1\x00"
_CODE: Final = b"veil/bundle-code/v1\x00"
LOG_SUITE: Final = Suite.PQ_HYBRID  # tenant log keys: logs stay at rest on the host for days


def seal_grant(suite: Suite, enclave_key: bytes, keys: bytes, info: bytes) -> bytes:
    """A function's keys sealed (HPKE) to an attested enclave or the KMS, bound to `info`."""
    return _hpke_seal(suite, enclave_key, keys, info)


def open_grant(enclave_key: HpkePrivateKey, sealed: bytes, info: bytes) -> bytes:
    return hpke_open(enclave_key, sealed, info)


def seal_request(suite: Suite, function_key: bytes, payload: bytes, info: bytes) -> bytes:
    """A request's sealed part (HPKE) to the function's key; `info` is its metadata."""
    return _hpke_seal(suite, function_key, payload, info)


def open_request(function_key: HpkePrivateKey, sealed: bytes, info: bytes) -> bytes:
    return hpke_open(function_key, sealed, info)


def seal_reply(reply_key: bytes, result: bytes, aad: bytes) -> bytes:
    """A result sealed (AEAD) under the client's one-time reply key."""
    return aead_seal(reply_key, result, aad)


def open_reply(reply_key: bytes, sealed: bytes, aad: bytes) -> bytes:
    return aead_open(reply_key, sealed, aad)


def seal_at_rest(master: bytes, label: str, data: bytes) -> bytes:
    """KMS data sealed (AEAD) under its master key, bound to the row it belongs in."""
    return aead_seal(master, data, _AT_REST + label.encode())


def open_at_rest(master: bytes, label: str, sealed: bytes) -> bytes:
    return aead_open(master, sealed, _AT_REST + label.encode())


def seal_code(code_key: bytes, code: bytes, aad: bytes) -> bytes:
    """A bundle's code sealed (AEAD) under its deploy's code key; `aad` names manifest, digest."""
    return aead_seal(code_key, code, _CODE + aad)


def open_code(code_key: bytes, sealed: bytes, aad: bytes) -> bytes:
    return aead_open(code_key, sealed, _CODE + aad)


def seal_log(log_key: bytes, text: bytes, info: bytes) -> bytes:
    """What a function printed, sealed (HPKE) to its tenant's log key, bound to `info`."""
    return _hpke_seal(LOG_SUITE, log_key, text, info)


def open_log(log_key: HpkePrivateKey, sealed: bytes, info: bytes) -> bytes:
    return hpke_open(log_key, sealed, info)

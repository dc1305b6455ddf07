"""Signed CBOR documents: `{"body": <canonical CBOR>, "sig": <Ed25519>}`.

The signature covers the body bytes exactly as sent, under a per-document
context string, so a receipt can never pass for a function record.
"""

from __future__ import annotations

from typing import Any

from veil.trusted.crypto.signing import SigningKey, VerifyKey
from veil.trusted.wire import cbor


def sign_document(
    key: SigningKey, context: bytes, body: dict[str, Any], *, ordered: bool = False
) -> bytes:
    """Sign `body`; `ordered=True` when its maps are built in canonical key order."""
    raw = cbor.encode_ordered(body) if ordered else cbor.encode(body)
    return cbor.encode_ordered({"sig": key.sign(context, raw), "body": raw})


def split_document(data: bytes, *, limit: int) -> tuple[bytes, bytes]:
    """(body bytes, signature) of a signed document, before any check."""
    outer = cbor.decode_map(data, limit=limit, fields={"body": bytes, "sig": bytes})
    return outer["body"], outer["sig"]


def open_document(
    data: bytes,
    *,
    context: bytes,
    key: VerifyKey,
    limit: int,
    fields: dict[str, type | tuple[type, ...]],
) -> dict[str, Any]:
    """Verify the signature with `key`, then parse the body against `fields`."""
    body, sig = split_document(data, limit=limit)
    key.verify(context, body, sig)
    return cbor.decode_map(body, limit=limit, fields=fields)

"""Deterministic CBOR (RFC 8949 §4.2) with strict, bounded decoding.

Every signed or hashed structure is encoded with `encode`. `decode` accepts
only what `encode` would produce: no tags, no indefinite lengths, no
duplicate keys, bounded depth and size, and the bytes must re-encode to
themselves, so two parties can never disagree about what was signed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cbor2

from veil.trusted.errors import MalformedMessage, MessageTooLarge

MAX_DEPTH = 16


def encode(value: object) -> bytes:
    """Canonical CBOR encoding of plain data (maps, lists, str, bytes, int, bool, None)."""
    return cbor2.dumps(value, canonical=True)


def _no_tags(_decoder: object, tag: object) -> object:
    raise MalformedMessage("CBOR tags are not allowed")


def decode(data: bytes, *, limit: int) -> Any:
    """Decode canonical CBOR of at most `limit` bytes, or raise `MalformedMessage`."""
    if len(data) > limit:
        raise MessageTooLarge(f"message of {len(data)} bytes is over its {limit}-byte limit")
    try:
        value = cbor2.loads(
            data,
            tag_hook=_no_tags,
            max_depth=MAX_DEPTH,
            allow_indefinite=False,
            allow_duplicate_keys=False,
        )
    except MalformedMessage:
        raise
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise MalformedMessage(f"not CBOR: {type(exc).__name__}") from None
    if isinstance(value, float) or encode(value) != data:
        raise MalformedMessage("CBOR is not in canonical form")
    return value


def decode_map(
    data: bytes, *, limit: int, fields: Mapping[str, type | tuple[type, ...]]
) -> dict[str, Any]:
    """Decode a map with exactly the optional-or-required `fields` and their types.

    Keys ending in "?" in `fields` are optional. Unknown keys are refused so
    that a newer sender cannot smuggle fields an older reader would ignore.
    """
    value = decode(data, limit=limit)
    return check_map(value, fields)


def check_map(value: object, fields: Mapping[str, type | tuple[type, ...]]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedMessage("expected a CBOR map")
    required = {k for k in fields if not k.endswith("?")}
    allowed = {k.rstrip("?"): t for k, t in fields.items()}
    for key, item in value.items():
        if key not in allowed:
            raise MalformedMessage(f"unexpected field {key!r}")
        expected = allowed[key]
        if not isinstance(item, expected) or (isinstance(item, bool) and expected is int):
            raise MalformedMessage(f"field {key!r} has the wrong type")
    missing = required - value.keys()
    if missing:
        raise MalformedMessage(f"missing field(s): {', '.join(sorted(missing))}")
    return value

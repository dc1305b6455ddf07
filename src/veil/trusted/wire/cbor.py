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
MAX_ITEMS = 4096  # data items in one message unless its kind sets fewer: cbor2 never sees more


def encode(value: object) -> bytes:
    """Canonical CBOR encoding of plain data (maps, lists, str, bytes, int, bool, None)."""
    return cbor2.dumps(value, canonical=True)


def encode_ordered(value: object) -> bytes:
    """Encode a value whose maps are already built in canonical key order.

    The hot-path messages (metadata, results, receipts, responses) build
    their maps in RFC 8949 §4.2.1 order (shorter keys first, then bytewise),
    which saves cbor2's canonical sort: about 5 µs a message. The output is
    identical to `encode`; tests check each such message against it, and
    every signed body is re-checked for canonical form when it is parsed.
    """
    return cbor2.dumps(value)


def _no_tags(_decoder: object, tag: object) -> object:
    raise MalformedMessage("CBOR tags are not allowed")


def scan(data: bytes, items: int) -> None:
    """Refuse from head bytes, in O(items), what cbor2 must not see: many items, deep, overlong."""
    pos, end, todo = 0, len(data), [1]  # todo: items still due in each open container
    while todo:
        if not todo[-1]:
            todo.pop()
            continue
        todo[-1], items = todo[-1] - 1, items - 1
        if items < 0 or pos >= end or len(todo) > MAX_DEPTH + 1:
            raise MalformedMessage("CBOR too many items, too deep, or truncated")
        major, info = data[pos] >> 5, data[pos] & 31
        size = 1 << (info - 24) if 24 <= info < 28 else 0
        if info > 27 or major == 6 or pos + 1 + size > end:
            raise MalformedMessage("CBOR tag, indefinite or reserved length, or truncated head")
        n, pos = int.from_bytes(data[pos + 1 : pos + 1 + size]) if size else info, pos + 1 + size
        if major in (2, 3):
            pos += n
        elif major in (4, 5):
            todo.append(n << (major - 4))
            if todo[-1] > end - pos:
                raise MalformedMessage("CBOR container longer than the message")
    if pos != end:
        raise MalformedMessage("CBOR with trailing bytes or a string longer than the message")


def decode(data: bytes, *, limit: int, canonical: bool = True, items: int = MAX_ITEMS) -> Any:
    """Decode CBOR of at most `limit` bytes, or raise `MalformedMessage`.

    `canonical=False` skips the re-encoding check, for messages whose bytes
    are never signed or compared in decoded form (the envelope, whose
    metadata is re-encoded for the HPKE info anyway, and the AEAD-protected
    request payload): it saves a full copy on the request hot path.
    """
    if len(data) > limit:
        raise MessageTooLarge(f"message of {len(data)} bytes is over its {limit}-byte limit")
    scan(data, items)
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
    _check_plain(value)
    if canonical and encode(value) != data:
        raise MalformedMessage("CBOR is not in canonical form")
    return value


_PLAIN = (bytes, str, int, bool, type(None))


def _check_plain(value: object) -> None:
    """Refuse anything but plain data: tagged values (dates, bignums ...) and floats."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key)
            _check_plain(item)
    elif isinstance(value, list):
        for item in value:
            _check_plain(item)
    elif not isinstance(value, _PLAIN):
        raise MalformedMessage(f"CBOR {type(value).__name__} values are not allowed")


def decode_map(
    data: bytes,
    *,
    limit: int,
    fields: Mapping[str, type | tuple[type, ...]],
    canonical: bool = True,
    items: int = MAX_ITEMS,
) -> dict[str, Any]:
    """Decode a map with exactly the optional-or-required `fields` and their types.

    Keys ending in "?" in `fields` are optional. Unknown keys are refused so
    that a newer sender cannot smuggle fields an older reader would ignore.
    """
    value = decode(data, limit=limit, canonical=canonical, items=items)
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

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

    Hot-path messages build their maps in RFC 8949 §4.2.1 order, which saves
    cbor2's canonical sort (about 5 µs a message). The output is that of
    `encode` (tests check each such message; parsers re-check signed bodies).
    """
    return cbor2.dumps(value)


def scan(data: bytes, items: int) -> None:
    """Refuse from head bytes, in O(items), what cbor2 must not see: many items, deep, tags."""
    pos, end, due, stack = 0, len(data), 1, list[int]()  # due: items left in the innermost one
    for _ in range(items + 1):
        while not due:
            if not stack:
                if pos != end:
                    raise MalformedMessage("CBOR with trailing bytes or an overlong string")
                return
            due = stack.pop()
        head, due = data[pos] if pos < end else 255, due - 1  # 255: truncated, refused below
        info, major = head & 31, head >> 5
        if info < 24:
            n, pos = info, pos + 1
        elif info < 28:
            pos += 1 + (size := 1 << (info - 24))
            n = int.from_bytes(data[pos - size : pos])
        else:
            raise MalformedMessage("CBOR indefinite length, reserved value or truncated")
        if major == 2 or major == 3:
            pos += n
        elif major == 4 or major == 5:
            stack.append(due)
            due = n << (major - 4)
            if due > end - pos or len(stack) > MAX_DEPTH:
                raise MalformedMessage("CBOR container too deep or longer than the message")
        elif major == 6:
            raise MalformedMessage("CBOR tags are not allowed")
    raise MalformedMessage("CBOR with more items than this kind of message may have")


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
        value = cbor2.loads(data, max_depth=MAX_DEPTH, allow_duplicate_keys=False)
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

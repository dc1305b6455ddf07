"""The pre-scan: cbor2 never sees a message with too many items, deep nesting, overlong lengths."""

from __future__ import annotations

import os

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.trusted.errors import MalformedMessage
from veil.trusted.wire import cbor
from veil.trusted.wire.envelope import Envelope, Metadata

plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.binary(max_size=32)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


def count_items(value: object) -> int:
    if isinstance(value, dict):
        return 1 + sum(count_items(k) + count_items(v) for k, v in value.items())
    if isinstance(value, list):
        return 1 + sum(count_items(v) for v in value)
    return 1


@pytest.fixture
def cbor2_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records every message the decoder hands to cbor2 (and still decodes it for real)."""
    calls: list[int] = []
    real = cbor2.loads

    def spy(data: bytes, **kw: object) -> object:
        calls.append(len(data))
        return real(data, **kw)

    monkeypatch.setattr(cbor.cbor2, "loads", spy)
    return calls


@given(plain)
def test_scan_accepts_every_canonical_encoding_within_its_item_limit(value: object) -> None:
    cbor.scan(cbor.encode(value), count_items(value))


@given(plain)
def test_scan_refuses_one_item_over_the_limit(value: object) -> None:
    with pytest.raises(MalformedMessage):
        cbor.scan(cbor.encode(value), count_items(value) - 1)


@given(st.binary(max_size=256))
def test_decode_of_arbitrary_bytes_raises_only_malformed_message(data: bytes) -> None:
    try:
        cbor.decode(data, limit=1024, canonical=False)
    except MalformedMessage:
        pass


@given(plain, st.integers(0, 255), st.data())
def test_a_flipped_byte_gives_a_value_or_malformed_message(
    value: object, byte: int, data: st.DataObject
) -> None:
    encoded = bytearray(cbor.encode(value))
    encoded[data.draw(st.integers(0, len(encoded) - 1))] = byte
    try:
        cbor.decode(bytes(encoded), limit=1 << 16, canonical=False)
    except MalformedMessage:
        pass


@given(plain, st.data())
def test_a_truncated_encoding_is_refused(value: object, data: st.DataObject) -> None:
    encoded = cbor.encode(value)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(MalformedMessage):
        cbor.scan(encoded[:cut], 1 << 20)


def test_eight_mib_of_tiny_items_is_refused_without_reaching_cbor2(cbor2_calls: list[int]) -> None:
    body = b"\x9a" + (8 << 20).to_bytes(4, "big") + b"\x00" * (8 << 20)
    with pytest.raises(MalformedMessage, match="more items"):
        cbor.decode(body, limit=16 << 20, canonical=False)
    assert cbor2_calls == []


def test_an_envelope_stuffed_with_tiny_items_is_refused_before_cbor2(
    cbor2_calls: list[int],
) -> None:
    stuffed = cbor.encode({"meta": {"junk": [0] * 100_000}, "sealed": b""})
    with pytest.raises(MalformedMessage):
        Envelope.from_bytes(stuffed)
    assert cbor2_calls == []


def test_an_honest_envelope_still_reaches_cbor2_once(cbor2_calls: list[int]) -> None:
    meta = Metadata("fn", os.urandom(16), 1, bytes(32), 1, os.urandom(32))
    Envelope.from_bytes(Envelope(meta, b"x" * 1000).to_bytes())
    assert len(cbor2_calls) == 1


def test_nesting_deeper_than_max_depth_is_refused(cbor2_calls: list[int]) -> None:
    deep = b"\x81" * (cbor.MAX_DEPTH + 1) + b"\x00"
    with pytest.raises(MalformedMessage, match="deep"):
        cbor.decode(deep, limit=1024, canonical=False)
    assert cbor2_calls == []


def test_nesting_at_max_depth_is_accepted() -> None:
    value: object = 0
    for _ in range(cbor.MAX_DEPTH):
        value = [value]
    assert cbor.decode(cbor.encode(value), limit=1024) == value


@pytest.mark.parametrize(
    "head",
    [
        b"\x5b" + (1 << 62).to_bytes(8, "big"),
        b"\x9b" + (1 << 62).to_bytes(8, "big"),
        b"\xbb" + (1 << 40).to_bytes(8, "big"),
        b"\x5a\xff\xff\xff\xff",
    ],
    ids=["bytes", "array", "map", "bytes-4g"],
)
def test_a_declared_length_over_what_is_left_is_refused(
    head: bytes, cbor2_calls: list[int]
) -> None:
    with pytest.raises(MalformedMessage):
        cbor.decode(head + b"\x00" * 16, limit=1024, canonical=False)
    assert cbor2_calls == []


@pytest.mark.parametrize(
    "data", [b"\xc1\x00", b"\xd8\x20\x60", b"\x9f\xff", b"\x5f\xff", b"\x1c", b""]
)
def test_tags_indefinite_lengths_reserved_values_and_empty_input_are_refused(data: bytes) -> None:
    with pytest.raises(MalformedMessage):
        cbor.scan(data, 16)


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(MalformedMessage, match="trailing"):
        cbor.scan(b"\x00\x00", 16)

"""Deterministic CBOR: one encoding per value, and strict, bounded parsing."""

from __future__ import annotations

import contextlib

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.trusted.errors import MalformedMessage, MessageTooLarge
from veil.trusted.wire import cbor

plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.binary(max_size=64)
    | st.text(max_size=16),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(plain)
def test_encode_then_decode_round_trips(value: object) -> None:
    assert cbor.decode(cbor.encode(value), limit=1 << 20) == value


def test_map_keys_are_sorted_shorter_first_then_bytewise() -> None:
    assert cbor.encode({"bb": 1, "a": 2, "ab": 3}) == bytes.fromhex("a36161026261620362626201")


def test_non_canonical_encoding_is_refused() -> None:
    unsorted = cbor2.dumps({"bb": 1, "a": 2})
    with pytest.raises(MalformedMessage, match="canonical"):
        cbor.decode(unsorted, limit=100)


def test_non_minimal_integer_is_refused() -> None:
    with pytest.raises(MalformedMessage):
        cbor.decode(bytes.fromhex("1801"), limit=100)


def test_tags_are_refused() -> None:
    for tagged in (cbor2.CBORTag(1, 0), cbor2.CBORTag(2, b"\x01"), cbor2.CBORTag(99, 0)):
        with pytest.raises(MalformedMessage):
            cbor.decode(cbor2.dumps(tagged), limit=100)


def test_indefinite_length_is_refused() -> None:
    with pytest.raises(MalformedMessage):
        cbor.decode(bytes.fromhex("9f01ff"), limit=100)


def test_duplicate_keys_are_refused() -> None:
    with pytest.raises(MalformedMessage):
        cbor.decode(bytes.fromhex("a2616101616102"), limit=100)


def test_floats_are_refused() -> None:
    with pytest.raises(MalformedMessage):
        cbor.decode(cbor2.dumps(1.5), limit=100)


@pytest.mark.parametrize(
    "encoded",
    ["f7", "e0", "f820", "f93c00", "fa3fc00000", "a16161f7", "81f8ff"],
    ids=["undefined", "simple-0", "simple-32", "half", "single", "in-a-map", "in-a-list"],
)
def test_only_false_true_and_null_pass_of_the_simple_values_and_floats(encoded: str) -> None:
    with pytest.raises(MalformedMessage):
        cbor.decode(bytes.fromhex(encoded), limit=100)
    assert cbor.decode(bytes.fromhex("83f4f5f6"), limit=100) == [False, True, None]


def test_oversized_input_is_refused_before_parsing() -> None:
    with pytest.raises(MessageTooLarge):
        cbor.decode(b"\x40" * 101, limit=100)


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(MalformedMessage):
        cbor.decode(b"\x81" * 100 + b"\x00", limit=1000)


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_garbage_raises_only_malformed_message(data: bytes) -> None:
    with contextlib.suppress(MalformedMessage):
        cbor.decode(data, limit=1000)


def test_unknown_and_missing_fields_are_refused() -> None:
    with pytest.raises(MalformedMessage, match="unexpected"):
        cbor.check_map({"a": 1, "b": 2}, {"a": int})
    with pytest.raises(MalformedMessage, match="missing"):
        cbor.check_map({}, {"a": int, "b?": int})


def test_bool_is_not_accepted_where_an_int_is_expected() -> None:
    with pytest.raises(MalformedMessage, match="wrong type"):
        cbor.check_map({"a": True}, {"a": int})

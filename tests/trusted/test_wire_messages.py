"""Hot-path messages are built in canonical order, and every parser fails only with typed errors."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from veil.trusted.errors import MalformedMessage
from veil.trusted.wire import cbor
from veil.trusted.wire.envelope import (
    ChainPosition,
    Envelope,
    Metadata,
    RequestPayload,
    Response,
    Result,
)
from veil.trusted.wire.receipt import Receipt
from veil.trusted.wire.records import GrantedKeys, KeyRequest

b16, b32 = st.binary(min_size=16, max_size=16), st.binary(min_size=32, max_size=32)
chains = st.none() | st.builds(ChainPosition, b16, st.integers(0, 1023), b32)
metas = st.builds(
    Metadata,
    st.text(min_size=1, max_size=20),
    b16,
    st.integers(0, 2**50),
    b32,
    st.integers(1, 2**50),
    b32,
    chains,
)


@given(metas)
def test_metadata_encoding_is_canonical(meta: Metadata) -> None:
    assert cbor.encode_ordered(meta.to_obj()) == cbor.encode(meta.to_obj())
    assert Metadata.from_obj(meta.to_obj()) == meta


@given(st.builds(Result, st.booleans(), st.binary(), st.text(), st.text(), st.binary()))
def test_result_encoding_is_canonical(result: Result) -> None:
    data = result.to_bytes()
    assert data == cbor.encode(cbor.decode(data, limit=1 << 20))
    assert Result.from_bytes(data) == result


@given(st.builds(Receipt, st.text(max_size=20), b16, b32, b32, b32, b32, b32, st.booleans()))
def test_receipt_body_is_canonical(receipt: Receipt) -> None:
    assert cbor.encode_ordered(receipt.body()) == cbor.encode(receipt.body())


@given(st.builds(Response, b16, st.binary(), st.binary(), st.text()))
def test_response_encoding_is_canonical(response: Response) -> None:
    data = response.to_bytes()
    assert data == cbor.encode(cbor.decode(data, limit=1 << 20))
    assert Response.from_bytes(data) == response


PARSERS = [
    Envelope.from_bytes,
    RequestPayload.from_bytes,
    Response.from_bytes,
    Result.from_bytes,
    KeyRequest.from_bytes,
    GrantedKeys.from_bytes,
]


@settings(max_examples=300)
@given(st.sampled_from(PARSERS), st.binary(max_size=200))
def test_garbage_into_every_wire_parser_raises_only_malformed_message(parse, data: bytes) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(MalformedMessage):
        parse(data)


@settings(max_examples=300)
@given(
    st.sampled_from(PARSERS),
    st.dictionaries(
        st.text(max_size=8),
        st.integers() | st.binary(max_size=40) | st.text(max_size=5),
        max_size=6,
    ),
)
def test_well_formed_cbor_of_the_wrong_shape_raises_only_malformed_message(
    parse, obj: dict[str, object]
) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(MalformedMessage):
        parse(cbor.encode(obj))

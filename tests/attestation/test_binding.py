"""The verifier's reading of an enclave binding: exactly what the enclave wrote, or refused."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.attestation.result import parse_binding
from veil.trusted.crypto.hazmat import Suite
from veil.trusted.errors import MalformedMessage
from veil.trusted.wire import cbor
from veil.trusted.wire.binding import EnclaveBinding

BINDING = EnclaveBinding(b"s" * 32, Suite.PQ_HYBRID, b"h" * 1216, b"k" * 32)


@pytest.mark.parametrize("suite", list(Suite))
def test_a_binding_reads_back_as_the_enclave_wrote_it(suite: Suite) -> None:
    binding = EnclaveBinding(b"s" * 32, suite, b"h" * suite.public_key_size, b"k" * 32)
    assert parse_binding(binding.to_bytes()) == binding


def test_a_binding_naming_an_unknown_suite_is_malformed() -> None:
    fields = {"sign": b"s", "suite": "rsa-1024", "hpke": b"h", "kms": b"k"}
    with pytest.raises(MalformedMessage, match="suite"):
        parse_binding(cbor.encode(fields))


def test_a_binding_with_an_extra_field_is_malformed() -> None:
    fields = {"sign": b"s", "suite": "x25519", "hpke": b"h", "kms": b"k", "debug": True}
    with pytest.raises(MalformedMessage):
        parse_binding(cbor.encode(fields))


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_garbage_as_a_binding_raises_only_malformed_message(data: bytes) -> None:
    with contextlib.suppress(MalformedMessage):
        parse_binding(data)

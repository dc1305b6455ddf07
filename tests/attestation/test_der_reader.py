"""The small DER reader: what it accepts, and that it fails only with DerError."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.attestation.evidence_pki import (
    SGX_COMPONENTS,
    der_int,
    der_oid,
    seq,
    sgx_extensions,
    tlv,
)
from veil.attestation import der
from veil.attestation.dcap.errors import PckExtensionsInvalid
from veil.attestation.dcap.pck import parse_sgx_extensions


def test_oids_decode_to_dotted_form() -> None:
    assert der.decode_oid(der_oid("1.2.840.113741.1.13.1.2.17")[2:]) == "1.2.840.113741.1.13.1.2.17"


@pytest.mark.parametrize("value", [0, 1, 127, 128, 255, 256, 65535])
def test_integers_round_trip(value: int) -> None:
    assert der.decode_int(der.read_single(der_int(value), der.INTEGER).value) == value


def test_long_lengths_are_read() -> None:
    content = b"\x04" * 300
    assert der.read_single(tlv(0x04, content), 0x04).value == content


@pytest.mark.parametrize(
    "bad",
    [
        b"\x30",  # no length
        b"\x30\x05\x00",  # value shorter than its length
        b"\x30\x81\x05\x00\x00\x00\x00\x00",  # long form for a short length
        b"\x02\x02\x00\x05",  # INTEGER not minimal
        b"\x02\x01\xff",  # negative SVN
        b"\x1f\x01\x00",  # multi-byte tag
    ],
)
def test_non_der_is_refused(bad: bytes) -> None:
    with pytest.raises(der.DerError):
        for item in der.read_all(bad):
            if item.tag == der.INTEGER:
                der.decode_int(item.value)


def test_the_sgx_extensions_parse_into_components_pce_svn_and_fmspc() -> None:
    ext = parse_sgx_extensions(sgx_extensions(SGX_COMPONENTS, 13))
    assert (ext.components, ext.pce_svn, ext.fmspc.hex()) == (SGX_COMPONENTS, 13, "00906ed50000")


def test_sgx_extensions_missing_the_pce_svn_are_refused() -> None:
    no_tcb = seq(seq(der_oid("1.2.840.113741.1.13.1.1"), tlv(0x04, b"\x11" * 16)))
    with pytest.raises(PckExtensionsInvalid):
        parse_sgx_extensions(no_tcb)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_fail_only_as_der_error_or_pck_extensions_invalid(data: bytes) -> None:
    with contextlib.suppress(der.DerError, PckExtensionsInvalid):
        parse_sgx_extensions(data)


@settings(max_examples=100, deadline=None)
@given(offset=st.integers(min_value=0, max_value=400), bit=st.integers(min_value=0, max_value=7))
def test_flipped_extension_bytes_never_fail_untyped(offset: int, bit: int) -> None:
    data = bytearray(sgx_extensions(SGX_COMPONENTS, 13))
    data[offset % len(data)] ^= 1 << bit
    with contextlib.suppress(der.DerError, PckExtensionsInvalid):
        parse_sgx_extensions(bytes(data))

"""The quote and report parsers refuse every truncation and never fail untyped."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.attestation.evidence_pki import DcapCase, dcap_sample, snp_sample
from tests.attestation.evidence_samples import (
    SAMPLE_NOW,
    sample_bytes,
    sgx_verifier,
    snp_report,
    tdx_verifier,
)
from veil.attestation.dcap.quote import parse_quote
from veil.attestation.errors import EvidenceRefused, MalformedEvidence
from veil.attestation.snp.report import parse_report

SGX = sample_bytes("sgx/quote.bin")
TDX = sample_bytes("tdx/quote.bin")
TDX_END = 4936  # the rest of the sample is zero padding, which truncation may remove
SNP = snp_report()


@pytest.mark.parametrize(("quote", "end"), [(SGX, len(SGX)), (TDX, TDX_END)], ids=["sgx", "tdx"])
def test_every_truncation_of_a_real_quote_is_malformed(quote: bytes, end: int) -> None:
    for length in range(end):
        with pytest.raises(MalformedEvidence):
            parse_quote(quote[:length])


def test_truncating_only_the_zero_padding_of_the_tdx_sample_still_parses() -> None:
    assert parse_quote(TDX[:TDX_END]).body_kind == "td10"


@pytest.mark.parametrize(
    "case",
    [DcapCase(), DcapCase(kind="tdx", version=4), DcapCase(kind="tdx", version=5, td15=True)],
    ids=["sgx-v3", "tdx-v4", "tdx-v5"],
)
def test_every_truncation_of_a_synthetic_quote_is_malformed(case: DcapCase) -> None:
    quote = dcap_sample(case).quote
    for length in range(len(quote)):
        with pytest.raises(MalformedEvidence):
            parse_quote(quote[:length])


@settings(max_examples=60, deadline=None)
@given(length=st.integers(min_value=0, max_value=len(SGX) - 1))
def test_the_sgx_verifier_refuses_any_truncated_quote(length: int) -> None:
    with pytest.raises(MalformedEvidence):
        sgx_verifier().verify(SGX[:length], now=SAMPLE_NOW)


@settings(max_examples=60, deadline=None)
@given(length=st.integers(min_value=0, max_value=TDX_END - 1))
def test_the_tdx_verifier_refuses_any_truncated_quote(length: int) -> None:
    with pytest.raises(MalformedEvidence):
        tdx_verifier().verify(TDX[:length], now=SAMPLE_NOW)


def test_every_truncation_of_an_snp_report_is_malformed() -> None:
    for length in range(len(SNP)):
        with pytest.raises(MalformedEvidence):
            parse_report(SNP[:length])


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=700))
def test_arbitrary_bytes_are_refused_with_a_typed_error(data: bytes) -> None:
    for verifier in (sgx_verifier(), tdx_verifier()):
        with pytest.raises(EvidenceRefused):
            verifier.verify(data, now=SAMPLE_NOW)


@settings(max_examples=100, deadline=None)
@given(
    prefix=st.sampled_from([SGX[:48], TDX[:48]]),
    tail=st.binary(max_size=1200),
)
def test_a_valid_header_with_garbage_after_it_is_refused_with_a_typed_error(
    prefix: bytes, tail: bytes
) -> None:
    verifier = sgx_verifier() if prefix == SGX[:48] else tdx_verifier()
    with pytest.raises(EvidenceRefused):
        verifier.verify(prefix + tail, now=SAMPLE_NOW)


@settings(max_examples=100, deadline=None)
@given(
    offset=st.integers(min_value=0, max_value=len(SGX) - 1),
    value=st.integers(min_value=0, max_value=255),
)
def test_any_byte_of_the_sgx_quote_changed_is_refused(offset: int, value: int) -> None:
    if SGX[offset] == value:
        return
    mutated = SGX[:offset] + bytes([value]) + SGX[offset + 1 :]
    with pytest.raises(EvidenceRefused):
        sgx_verifier().verify(mutated, now=SAMPLE_NOW)


@settings(max_examples=100, deadline=None)
@given(data=st.binary(min_size=0x4A0, max_size=0x4A0))
def test_arbitrary_report_sized_bytes_are_refused_with_a_typed_error(data: bytes) -> None:
    from tests.attestation.evidence_samples import snp_verifier

    with pytest.raises(EvidenceRefused):
        snp_verifier().verify(data, now=SAMPLE_NOW)


def test_an_snp_report_of_version_1_is_unsupported() -> None:
    from veil.attestation.snp.errors import UnsupportedReport

    old = b"\x01" + snp_sample().report[1:]
    with pytest.raises(UnsupportedReport):
        parse_report(old)

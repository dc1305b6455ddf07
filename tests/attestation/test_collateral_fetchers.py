"""The optional PCS/PCCS and AMD KDS fetchers, against a mock transport serving the samples.

No network: `httpx.MockTransport` answers in Intel's and AMD's response
formats with the recorded collateral, and the real verifiers check the result.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest

from tests.attestation.evidence_samples import (
    SAMPLE_NOW,
    collateral_json,
    sample_bytes,
    sgx_verifier,
    snp_report,
)
from veil.attestation.dcap.pcs import PcsClient, signed_text
from veil.attestation.errors import CollateralInvalid
from veil.attestation.snp import SnpVerifier
from veil.attestation.snp.kds import KdsVcekLookup


def pcs_transport(kind: str, requests: list[httpx.Request]) -> httpx.MockTransport:
    c = collateral_json(kind)

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        path = request.url.path
        if path.endswith("/tcb"):
            body = '{"tcbInfo":' + c["tcb_info"] + ',"signature":"' + c["tcb_info_signature"] + '"}'
            chain = {"TCB-Info-Issuer-Chain": quote(c["tcb_info_issuer_chain"])}
            return httpx.Response(200, text=body, headers=chain)
        if path.endswith("/qe/identity"):
            body = (
                '{"enclaveIdentity": '
                + c["qe_identity"]
                + ', "signature": "'
                + c["qe_identity_signature"]
                + '"}'
            )
            chain = {"SGX-Enclave-Identity-Issuer-Chain": quote(c["qe_identity_issuer_chain"])}
            return httpx.Response(200, text=body, headers=chain)
        if path.endswith("/pckcrl"):
            chain = {"SGX-PCK-CRL-Issuer-Chain": quote(c["pck_crl_issuer_chain"])}
            return httpx.Response(200, content=bytes.fromhex(c["pck_crl"]), headers=chain)
        if path.endswith("IntelSGXRootCA.der"):
            return httpx.Response(200, text=c["root_ca_crl"])  # hex, as some PCCSes serve it
        return httpx.Response(404)

    return httpx.MockTransport(handler)


def test_pcs_collateral_verifies_the_sample_and_is_cached() -> None:
    requests: list[httpx.Request] = []
    pcs = PcsClient(client=httpx.Client(transport=pcs_transport("sgx", requests)))
    quote_bytes = sample_bytes("sgx/quote.bin")
    collateral = pcs.collateral_for(quote_bytes, now=SAMPLE_NOW)
    claims = sgx_verifier(collateral).verify(quote_bytes, now=SAMPLE_NOW)
    assert claims.tcb_status == "ConfigurationAndSWHardeningNeeded"
    assert requests[0].url.params["fmspc"] == "00A067110000"
    assert {r.url.params.get("ca") for r in requests} >= {"processor"}
    assert pcs.collateral_for(quote_bytes, now=SAMPLE_NOW) is collateral
    assert len(requests) == 4


def test_pcs_collateral_is_fetched_again_after_its_next_update() -> None:
    requests: list[httpx.Request] = []
    pcs = PcsClient(client=httpx.Client(transport=pcs_transport("tdx", requests)))
    quote_bytes = sample_bytes("tdx/quote.bin")
    pcs.collateral_for(quote_bytes, now=SAMPLE_NOW)
    pcs.collateral_for(quote_bytes, now=SAMPLE_NOW + timedelta(days=60))
    assert len(requests) == 8
    assert requests[0].url.path == "/tdx/certification/v4/tcb"
    assert requests[2].url.params["ca"] == "platform"


def test_the_signed_text_is_cut_out_byte_for_byte() -> None:
    body = '{"tcbInfo" :  {"b": 1,  "a": [1, 2]} , "signature": "00"}'
    assert signed_text(body, "tcbInfo") == '{"b": 1,  "a": [1, 2]}'
    with pytest.raises(CollateralInvalid):
        signed_text(body, "enclaveIdentity")


def test_a_failing_pcs_is_a_collateral_error() -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(503)))
    with pytest.raises(CollateralInvalid):
        PcsClient(client=client).collateral_for(sample_bytes("sgx/quote.bin"), now=SAMPLE_NOW)


def test_the_kds_lookup_fetches_the_vcek_for_the_reports_chip_and_tcb() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, content=sample_bytes("snp/vcek_milan.der"))

    lookup = KdsVcekLookup("Milan", client=httpx.Client(transport=httpx.MockTransport(handler)))
    verifier = SnpVerifier(
        ark_pem=sample_bytes("snp/ark_milan.pem"),
        ask_pem=sample_bytes("snp/ask_milan.pem"),
        vcek_lookup=lookup,
    )
    report = snp_report()
    assert verifier.verify(report, now=SAMPLE_NOW).tee == "snp"
    verifier.verify(report, now=SAMPLE_NOW)
    assert len(requests) == 1
    url = requests[0].url
    assert url.path == f"/vcek/v1/Milan/{report[0x1A0:0x1E0].hex()}"
    assert dict(url.params) == {"blSPL": "3", "teeSPL": "0", "snpSPL": "8", "ucodeSPL": "115"}

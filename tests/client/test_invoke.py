"""The client accepts output only with a receipt that proves the whole chain."""

from __future__ import annotations

import dataclasses

import pytest

from veil.client.invoke import (
    ReceiptInvalid,
    RemoteFunctionError,
    open_response,
    result_or_raise,
    seal,
)
from veil.client.trust import TrustAnchors
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.enclave import Enclave
from veil.trusted.errors import BadSignature
from veil.trusted.wire.envelope import Response
from veil.trusted.wire.receipt import Receipt
from veil.wiring.direct import Deployed, DirectPlatform


def test_response_for_another_request_is_refused(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    a, b = (
        seal(echo.record, b"a", enclave=enclave.key_id),
        seal(echo.record, b"b", enclave=enclave.key_id),
    )
    response_to_b = enclave.handle(b.envelope)
    with pytest.raises(ReceiptInvalid, match="another request"):
        open_response(a, response_to_b, platform.trust)


def test_sealed_result_spliced_from_another_response_is_refused(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    a, b = (
        seal(echo.record, b"a", enclave=enclave.key_id),
        seal(echo.record, b"b", enclave=enclave.key_id),
    )
    ra, rb = (
        Response.from_bytes(enclave.handle(a.envelope)),
        Response.from_bytes(enclave.handle(b.envelope)),
    )
    spliced = dataclasses.replace(ra, sealed=rb.sealed).to_bytes()
    with pytest.raises(ReceiptInvalid):
        open_response(a, spliced, platform.trust)


def test_receipt_signed_by_a_key_other_than_the_attested_one_is_refused(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    request = seal(echo.record, b"a", enclave=enclave.key_id)
    resp = Response.from_bytes(enclave.handle(request.envelope))
    body = Receipt.verify(resp.receipt, _enclave_key(enclave))
    forged = dataclasses.replace(resp, receipt=body.sign(SigningKey.generate())).to_bytes()
    with pytest.raises(BadSignature):
        open_response(request, forged, platform.trust)


def test_receipt_naming_another_bundle_is_refused(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    request = seal(echo.record, b"a", enclave=enclave.key_id)
    pinned_elsewhere = dataclasses.replace(
        request, record=dataclasses.replace(echo.record, digest=bytes(32))
    )
    with pytest.raises(ReceiptInvalid):
        open_response(pinned_elsewhere, enclave.handle(request.envelope), platform.trust)


def test_client_that_trusts_another_kms_refuses(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    request = seal(echo.record, b"a", enclave=enclave.key_id)
    trust = dataclasses.replace(platform.trust, kms_key=SigningKey.generate().public)
    with pytest.raises(ReceiptInvalid, match="another KMS"):
        open_response(request, enclave.handle(request.envelope), trust)


def test_client_refuses_sim_receipts_unless_it_opts_in(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    request = seal(echo.record, b"a", enclave=enclave.key_id)
    strict = TrustAnchors(platform.trust.kms_key, platform.trust.verifier_keys)
    with pytest.raises(ReceiptInvalid, match="sim"):
        open_response(request, enclave.handle(request.envelope), strict)


def test_client_pinning_measurements_refuses_others(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    request = seal(echo.record, b"a", enclave=enclave.key_id)
    pinned = dataclasses.replace(platform.trust, measurements=("00" * 32,))
    with pytest.raises(ReceiptInvalid, match="measurement"):
        open_response(request, enclave.handle(request.envelope), pinned)


def test_function_errors_arrive_sealed_with_a_receipt(platform: DirectPlatform) -> None:
    from tests.conftest import small_limits
    from tests.trusted.sandbox.test_reactor import module
    from veil.trusted.bundle import Bundle, Manifest

    deployed = platform.deploy(
        Bundle(Manifest("acme/loop", "1", limits=small_limits()), module("loop"))
    )
    enclave = platform.start_enclave()
    platform.provision(enclave, deployed)
    request = seal(deployed.record, b"x", enclave=enclave.key_id)
    invocation = open_response(request, enclave.handle(request.envelope), platform.trust)
    with pytest.raises(RemoteFunctionError) as err:
        result_or_raise(invocation)
    assert err.value.kind == "FunctionTimeout"
    assert invocation.receipt.ok is False


def _enclave_key(enclave: Enclave):  # type: ignore[no-untyped-def]
    return enclave._sign.public


def test_response_from_another_enclave_than_the_request_names_is_refused(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    """The receipt is honest about which enclave ran it; the client checks it is the one it
    sealed to, so a host cannot have any other enclave run the request and pass it off."""
    request = seal(echo.record, b"a", enclave=enclave.key_id)
    answer = enclave.handle(request.envelope)
    believed = dataclasses.replace(request.meta, enclave=bytes(32))
    with pytest.raises(ReceiptInvalid, match="another enclave"):
        open_response(dataclasses.replace(request, meta=believed), answer, platform.trust)

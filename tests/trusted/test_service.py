"""The enclave's ops, driven as the host would drive them, including by a hostile host."""

from __future__ import annotations

import os
import time

import cbor2
import pytest

from tests.conftest import echo_bundle
from veil.client.invoke import open_response, seal
from veil.trusted.bundle import BundleRefused
from veil.trusted.enclave import Enclave, NotAttested
from veil.trusted.errors import MalformedMessage
from veil.trusted.service import OPS, EnclaveService
from veil.wiring.direct import Deployed, DirectPlatform


@pytest.fixture
def service(platform: DirectPlatform) -> EnclaveService:
    return EnclaveService(Enclave(platform.kms.public_key), platform.attester)


def relay_attestation(platform: DirectPlatform, service: EnclaveService) -> str:
    nonce = platform.verifier.challenge()
    reply = cbor2.loads(service.handle("evidence", nonce))
    token = platform.verifier.attest(reply["tee"], reply["evidence"], reply["binding"], nonce)
    assert service.handle("attested", token) == b""
    return token


def relay_time(platform: DirectPlatform, service: EnclaveService) -> None:
    nonce = service.handle("time_request", b"")
    assert service.handle("time_anchor", platform.kms.time_anchor(nonce)) == b""


def relay_keys(platform: DirectPlatform, service: EnclaveService, deployed: Deployed) -> None:
    request = service.handle(
        "key_request", {"fn": deployed.record.name, "digest": deployed.record.digest}
    )
    grant = platform.kms.release(request)
    installed = cbor2.loads(
        service.handle("install", {"bundle": deployed.signed_bundle, "grant": grant})
    )
    assert installed["install_ms"] > 0


def test_the_host_relays_attestation_key_release_and_requests(
    platform: DirectPlatform, service: EnclaveService, echo: Deployed
) -> None:
    token = relay_attestation(platform, service)
    relay_time(platform, service)
    relay_keys(platform, service, echo)
    request = seal(echo.record, b"relayed", enclave=service.enclave.key_id)
    reply = service.handle("invoke", request.envelope)
    assert open_response(request, reply, platform.trust).output == b"relayed"
    info = cbor2.loads(service.handle("info", b""))
    assert info["attestation"] == token and info["functions"] == ["acme/echo"]
    assert info["pid"] == os.getpid() and info["key_id"] == service.enclave.key_id


def test_no_key_request_before_the_host_hands_in_an_attestation_result(
    service: EnclaveService, echo: Deployed
) -> None:
    with pytest.raises(NotAttested):
        service.handle("key_request", {"fn": "acme/echo", "digest": echo.record.digest})


def test_an_unknown_operation_is_malformed_not_an_attribute_lookup(service: EnclaveService) -> None:
    for op in ("load", "__init__", "_info", "handle", "enclave", ""):
        with pytest.raises(MalformedMessage):
            service.handle(op, b"")
    assert {"info", "evidence", "attested", "key_request", "install", "invoke", "ping"} | {
        "time_request",
        "time_anchor",
    } == OPS


def test_a_ping_with_a_huge_integer_is_refused_not_allocated(service: EnclaveService) -> None:
    start = time.perf_counter()
    with pytest.raises(MalformedMessage):
        service.handle("ping", 2**40)  # bytes(2**40) would try to allocate a terabyte
    assert time.perf_counter() - start < 1
    assert service.handle("ping", b"echo") == b"echo"


@pytest.mark.parametrize("nonce", [b"", b"n" * 31, b"n" * 33, "n" * 32, 32, None])
def test_evidence_wants_a_32_byte_nonce(service: EnclaveService, nonce: object) -> None:
    with pytest.raises(MalformedMessage):
        service.handle("evidence", nonce)


@pytest.mark.parametrize(
    ("op", "arg"),
    [
        ("attested", b"token as bytes"),
        ("key_request", {"fn": "acme/echo"}),
        ("key_request", {"fn": 1, "digest": b""}),
        ("key_request", b"not a map"),
        ("install", {"bundle": b"", "grant": b"", "extra": b""}),
        ("install", {"bundle": "text", "grant": b""}),
        ("invoke", {"envelope": b""}),
        ("time_anchor", "anchor as text"),
        ("time_anchor", {"nonce": b"", "time_ms": 0}),
    ],
)
def test_an_argument_of_the_wrong_shape_is_malformed(
    platform: DirectPlatform, service: EnclaveService, op: str, arg: object
) -> None:
    relay_attestation(platform, service)
    with pytest.raises(MalformedMessage):
        service.handle(op, arg)


def test_a_grant_for_another_function_bundle_is_refused(
    platform: DirectPlatform, service: EnclaveService, echo: Deployed
) -> None:
    other = platform.deploy(echo_bundle("acme/other"))
    relay_attestation(platform, service)
    request = service.handle("key_request", {"fn": echo.record.name, "digest": echo.record.digest})
    grant = platform.kms.release(request)
    with pytest.raises(BundleRefused):
        service.handle("install", {"bundle": other.signed_bundle, "grant": grant})
    assert cbor2.loads(service.handle("info", b""))["functions"] == []

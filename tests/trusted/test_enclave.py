"""The enclave against a malicious host: every bad input is refused with a typed error,
and the enclave keeps serving afterwards."""

from __future__ import annotations

import dataclasses
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import echo_bundle
from veil.client.invoke import open_response, seal
from veil.kms.errors import DigestNotRegistered
from veil.trusted.bundle import Bundle, BundleRefused, Manifest, SignedBundle
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.enclave import (
    Enclave,
    GrantRefused,
    NotAttested,
    UnknownFunction,
    WrongEnclave,
)
from veil.trusted.errors import BadSignature, DecryptionFailed, MalformedMessage, Refused
from veil.trusted.replay import ReplayedRequest, RequestExpired
from veil.trusted.wire.envelope import Envelope, Response, Result, open_result
from veil.wiring.direct import Deployed, DirectPlatform


def still_serves(platform: DirectPlatform, enclave: Enclave, deployed: Deployed) -> None:
    request = seal(deployed.record, b"still here", enclave=enclave.key_id)
    assert open_response(request, enclave.handle(request.envelope), platform.trust).output == (
        b"still here"
    )


def test_sealed_request_round_trips_with_a_verified_receipt(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    request = seal(echo.record, b"hello", enclave=enclave.key_id)
    invocation = open_response(request, enclave.handle(request.envelope), platform.trust)
    assert invocation.output == b"hello"
    assert invocation.receipt.bundle_digest == echo.record.digest
    assert invocation.attestation.tee == "sim"


def test_tampered_metadata_is_refused(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    request = seal(echo.record, b"x", enclave=enclave.key_id)
    env = Envelope.from_bytes(request.envelope)
    later = dataclasses.replace(env.meta, deadline_ms=env.meta.deadline_ms + 1000)
    with pytest.raises(DecryptionFailed):
        enclave.handle(Envelope(later, env.sealed).to_bytes())
    still_serves(platform, enclave, echo)


def test_tampered_ciphertext_is_refused_at_every_byte(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    env = Envelope.from_bytes(seal(echo.record, b"x", enclave=enclave.key_id).envelope)
    for i in range(0, len(env.sealed), 5):
        sealed = bytearray(env.sealed)
        sealed[i] ^= 0x80
        with pytest.raises(DecryptionFailed):
            enclave.handle(Envelope(env.meta, bytes(sealed)).to_bytes())
    still_serves(platform, enclave, echo)


def test_request_sealed_to_another_functions_key_is_refused(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    other = platform.deploy(echo_bundle("acme/other"))
    env = Envelope.from_bytes(seal(other.record, b"x", enclave=enclave.key_id).envelope)
    retargeted = dataclasses.replace(
        env.meta, function=echo.record.name, digest=echo.record.digest, version=echo.record.version
    )
    with pytest.raises(DecryptionFailed):
        enclave.handle(Envelope(retargeted, env.sealed).to_bytes())
    still_serves(platform, enclave, echo)


def test_request_for_a_function_not_in_this_enclave_is_refused(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    other = platform.deploy(echo_bundle("acme/other"))
    with pytest.raises(UnknownFunction):
        enclave.handle(seal(other.record, b"x", enclave=enclave.key_id).envelope)


def test_replayed_request_inside_its_deadline_is_refused(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    request = seal(echo.record, b"x", enclave=enclave.key_id)
    enclave.handle(request.envelope)
    with pytest.raises(ReplayedRequest):
        enclave.handle(request.envelope)
    still_serves(platform, enclave, echo)


def test_request_for_another_enclave_is_refused_before_its_payload_is_opened(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    other = platform.start_enclave()
    platform.provision(other, echo)
    env = Envelope.from_bytes(seal(echo.record, b"x", enclave=other.key_id).envelope)
    with pytest.raises(WrongEnclave):
        enclave.handle(env.to_bytes())
    with pytest.raises(WrongEnclave):  # refused on the metadata alone: nothing is opened
        enclave.handle(Envelope(env.meta, b"not even ciphertext").to_bytes())
    still_serves(platform, enclave, echo)


def test_the_replay_window_survives_a_reinstall_of_the_function(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    request = seal(echo.record, b"x", enclave=enclave.key_id)
    enclave.handle(request.envelope)
    platform.provision(enclave, echo)  # the host installs the same function again
    with pytest.raises(ReplayedRequest):
        enclave.handle(request.envelope)
    still_serves(platform, enclave, echo)


def test_an_enclave_key_id_that_is_not_32_bytes_is_malformed(
    enclave: Enclave, echo: Deployed
) -> None:
    env = Envelope.from_bytes(seal(echo.record, b"x", enclave=enclave.key_id).envelope)
    for size in (0, 16, 31, 33):
        short = dataclasses.replace(env.meta, enclave=bytes(size))
        with pytest.raises(MalformedMessage):
            enclave.handle(Envelope(short, env.sealed).to_bytes())


def test_expired_request_is_refused(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    with pytest.raises(RequestExpired):
        enclave.handle(seal(echo.record, b"x", enclave=enclave.key_id, timeout_s=-1).envelope)
    still_serves(platform, enclave, echo)


def test_deadline_too_far_ahead_is_refused(enclave: Enclave, echo: Deployed) -> None:
    with pytest.raises(RequestExpired, match="too far"):
        enclave.handle(seal(echo.record, b"x", enclave=enclave.key_id, timeout_s=3600).envelope)


def test_every_truncation_of_an_envelope_is_refused(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    data = seal(echo.record, b"x" * 40, enclave=enclave.key_id).envelope
    for cut in range(len(data)):
        with pytest.raises(MalformedMessage):
            enclave.handle(data[:cut])
    still_serves(platform, enclave, echo)


def test_oversized_envelope_is_refused_before_parsing(enclave: Enclave) -> None:
    with pytest.raises(MalformedMessage, match="limit"):
        enclave.handle(b"\x00" * (17 * 1024 * 1024))


def test_input_over_the_manifest_limit_comes_back_as_a_sealed_error(
    platform: DirectPlatform,
) -> None:
    from tests.conftest import small_limits

    deployed = platform.deploy(echo_bundle("acme/small", limits=small_limits(max_input=4)))
    enclave = platform.start_enclave()
    platform.provision(enclave, deployed)
    request = seal(deployed.record, b"too long", enclave=enclave.key_id)
    invocation = open_response(request, enclave.handle(request.envelope), platform.trust)
    assert not invocation.ok and invocation.error_kind == "MessageTooLarge"
    assert not invocation.receipt.ok


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_garbage_envelopes_raise_only_refused(enclave: Enclave, data: bytes) -> None:
    with pytest.raises(Refused):
        enclave.handle(data)


def test_response_is_readable_only_with_the_reply_key(enclave: Enclave, echo: Deployed) -> None:
    request = seal(echo.record, b"private output", enclave=enclave.key_id)
    response = Response.from_bytes(enclave.handle(request.envelope))
    assert b"private output" not in response.to_bytes()
    with pytest.raises(DecryptionFailed):
        open_result(os.urandom(32), request.request_hash, response.sealed)
    assert open_result(request.reply_key, request.request_hash, response.sealed) == Result(
        True, b"private output"
    )


def test_enclave_refuses_to_serve_before_it_is_attested(
    platform: DirectPlatform, echo: Deployed
) -> None:
    from veil.trusted.enclave import Enclave

    enclave = Enclave(platform.kms.public_key)
    with pytest.raises(NotAttested):
        enclave.handle(seal(echo.record, b"x", enclave=enclave.key_id).envelope)
    with pytest.raises(NotAttested):
        enclave.key_request(echo.record.name, echo.record.digest)


def test_key_grant_for_another_enclave_is_refused(platform: DirectPlatform, echo: Deployed) -> None:
    a, b = platform.start_enclave(), platform.start_enclave()
    grant_for_a = platform.kms.release(a.key_request(echo.record.name, echo.record.digest))
    with pytest.raises(GrantRefused):
        b.install(echo.signed_bundle, grant_for_a)


def test_key_grant_forged_by_the_host_is_refused(platform: DirectPlatform, echo: Deployed) -> None:
    from veil.trusted.wire.records import KeyGrant

    enclave = platform.start_enclave()
    grant = KeyGrant.verify(
        platform.kms.release(enclave.key_request(echo.record.name, echo.record.digest)),
        platform.kms.public_key,
    )
    forged = dataclasses.replace(grant).sign(SigningKey.generate())
    with pytest.raises(BadSignature):
        enclave.install(echo.signed_bundle, forged)


def test_bundle_swapped_by_the_host_is_refused(platform: DirectPlatform, echo: Deployed) -> None:
    enclave = platform.start_enclave()
    grant = platform.kms.release(enclave.key_request(echo.record.name, echo.record.digest))
    evil = Bundle(Manifest(echo.record.name, "1"), echo_bundle().code + b"\x00")
    with pytest.raises(BundleRefused):
        enclave.install(SignedBundle.sign(evil, platform.tenant_key).to_bytes(), grant)


def test_bundle_digest_that_is_not_registered_gets_no_keys(
    platform: DirectPlatform, echo: Deployed
) -> None:
    enclave = platform.start_enclave()
    unregistered = Bundle(Manifest(echo.record.name, "2"), echo_bundle().code).digest
    with pytest.raises(DigestNotRegistered):
        platform.kms.release(enclave.key_request(echo.record.name, unregistered))


def test_pq_hybrid_function_round_trips(platform: DirectPlatform) -> None:
    deployed = platform.deploy(echo_bundle("acme/pq", suite="mlkem768-x25519"))
    enclave = platform.start_enclave()
    platform.provision(enclave, deployed)
    request = seal(deployed.record, b"post-quantum", enclave=enclave.key_id)
    assert open_response(request, enclave.handle(request.envelope), platform.trust).output == (
        b"post-quantum"
    )

"""Tampering, splicing and replaying sealed messages, played by `HostileHost`.

The integrity rows of the hostile-host table: each one changes bytes where
the host carries them, expects the typed refusal, then checks that the same
enclave still serves an honest request and that the attacked request's
secret input never appears in anything the host carried or stored.
"""

from __future__ import annotations

from collections.abc import Iterator

import cbor2
import pytest

from tests.adversary.host import HostileHost, flip_bit, replace, splice
from tests.conftest import echo_bundle
from veil.client.errors import GatewayError
from veil.client.invoke import ReceiptInvalid
from veil.client.sdk import Client
from veil.trusted.errors import DecryptionFailed, MalformedMessage, VeilError
from veil.wiring.embedded import EmbeddedPlatform

SECRET = b"the secret input of the attacked request"
INVOKE = "/v1/invoke/acme/echo"


@pytest.fixture
def host(trust: EmbeddedPlatform) -> Iterator[HostileHost]:
    with HostileHost(trust) as hostile:
        yield hostile


@pytest.fixture
def client(host: HostileHost, trust: EmbeddedPlatform) -> Iterator[Client]:
    with host.client() as client:
        trust.deploy_bundle(client, echo_bundle())
        assert client.invoke("acme/echo", b"warm").output == b"warm"
        yield client


def flip_sealed(envelope: bytes) -> bytes:
    """A bit flipped inside the HPKE ciphertext, leaving the CBOR framing intact."""
    decoded = cbor2.loads(envelope)
    decoded["sealed"] = flip_bit(decoded["sealed"], len(decoded["sealed"]) // 2)
    return bytes(cbor2.dumps(decoded))


def kind(exc: BaseException) -> str:
    return exc.kind if isinstance(exc, GatewayError) else type(exc).__name__


def assert_survives(host: HostileHost) -> None:
    assert host.serves("acme/echo") == b"still serving"
    assert not host.saw(SECRET)


def test_a_flipped_bit_in_the_sealed_payload_is_refused_as_undecryptable(
    host: HostileHost, client: Client
) -> None:
    host.client_tap.rewrite(INVOKE, flip_sealed)
    with pytest.raises((VeilError, GatewayError)) as refused:
        client.invoke("acme/echo", SECRET)
    assert kind(refused.value) == DecryptionFailed.__name__
    assert_survives(host)


def test_metadata_spliced_onto_another_requests_payload_is_refused(
    host: HostileHost, client: Client
) -> None:
    client.invoke("acme/echo", b"an earlier request")
    earlier = host.client_tap.sent(INVOKE)[-1]
    host.client_tap.rewrite(INVOKE, splice(earlier, "meta"))
    with pytest.raises((VeilError, GatewayError)) as refused:
        client.invoke("acme/echo", SECRET)
    assert kind(refused.value) in {DecryptionFailed.__name__, ReceiptInvalid.__name__}
    assert_survives(host)


def test_an_old_response_replayed_for_a_new_request_is_refused_by_the_client(
    host: HostileHost, client: Client
) -> None:
    client.invoke("acme/echo", b"an earlier request")
    old_answer = host.client_tap.sent(INVOKE, reply=True)[-1]
    host.client_tap.rewrite(INVOKE, replace(old_answer), reply=True)
    with pytest.raises(ReceiptInvalid, match="another request"):
        client.invoke("acme/echo", SECRET)
    assert_survives(host)


def test_a_flipped_bit_in_the_sealed_result_is_refused_by_the_client(
    host: HostileHost, client: Client
) -> None:
    def flip_result(answer: bytes) -> bytes:
        decoded = cbor2.loads(answer)
        decoded["sealed"] = flip_bit(decoded["sealed"], 0)
        return bytes(cbor2.dumps(decoded))

    host.client_tap.rewrite(INVOKE, flip_result, reply=True)
    with pytest.raises(ReceiptInvalid):
        client.invoke("acme/echo", SECRET)
    assert_survives(host)


def test_a_truncated_envelope_is_refused_as_malformed(host: HostileHost, client: Client) -> None:
    host.enclave_tap.rewrite("invoke", lambda data: data[: len(data) // 2])
    with pytest.raises((VeilError, GatewayError)) as refused:
        client.invoke("acme/echo", SECRET)
    assert kind(refused.value) == MalformedMessage.__name__
    assert_survives(host)


def test_a_tampered_key_grant_is_refused_and_the_next_cold_start_succeeds(
    host: HostileHost, trust: EmbeddedPlatform
) -> None:
    host.trust_tap.rewrite("release", lambda grant: flip_bit(grant, len(grant) // 2), reply=True)
    with host.client() as client:
        trust.deploy_bundle(client, echo_bundle())
        with pytest.raises((VeilError, GatewayError)) as refused:
            client.invoke("acme/echo", SECRET)
    assert kind(refused.value) in {"BadSignature", "MalformedMessage", "GrantRefused"}
    assert_survives(host)

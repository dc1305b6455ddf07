"""What the SDK raises for each kind of gateway answer."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import echo_bundle
from veil.attestation.policy import Policy
from veil.client.errors import GatewayError, SealKeyNotPinned, check
from veil.client.sdk import Client
from veil.client.trust import TrustAnchors
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.errors import BadSignature, MalformedMessage


def _answer(status: int, kind: str, detail: str = "d") -> httpx.Response:
    return httpx.Response(status, json={"error": kind, "detail": detail})


def test_a_success_passes_through() -> None:
    response = httpx.Response(200, content=b"ok")
    assert check(response) is response


def test_a_trusted_refusal_arrives_as_its_class() -> None:
    with pytest.raises(BadSignature, match="sig"):
        check(_answer(403, "BadSignature", "sig"))
    with pytest.raises(MalformedMessage):
        check(_answer(400, "MalformedMessage"))


def test_a_refusal_the_sdk_does_not_know_keeps_its_name_and_status() -> None:
    with pytest.raises(GatewayError) as err:
        check(_answer(404, "UnknownTenant", "tenant 'ghost' is not registered"))
    assert (err.value.status, err.value.kind) == (404, "UnknownTenant")


def test_a_known_name_on_a_server_error_is_not_rebuilt() -> None:
    """Only refusals (400, 403, 404) become classes; a 5xx stays a gateway failure."""
    with pytest.raises(GatewayError) as err:
        check(_answer(503, "BadSignature"))
    assert err.value.status == 503


def test_an_answer_that_is_not_json_is_a_gateway_error() -> None:
    with pytest.raises(GatewayError) as err:
        check(httpx.Response(502, content=b"<html>bad gateway</html>"))
    assert (err.value.status, err.value.kind) == (502, "HTTPError")


def test_a_deploy_without_the_pinned_seal_key_is_refused_before_anything_is_sent() -> None:
    """Nothing to seal the code key and secrets to: the SDK refuses rather than send them."""
    trust = TrustAnchors(SigningKey.generate().public, ())
    with Client("http://127.0.0.1:9", trust) as client, pytest.raises(SealKeyNotPinned):
        client.deploy(
            echo_bundle(), tenant="acme", key=SigningKey.generate(), policy=Policy.development()
        )

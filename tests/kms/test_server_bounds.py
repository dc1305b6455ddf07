"""The KMS server bounds what an unauthenticated caller can make it buffer or parse."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.serving import serving
from veil.kms.server import MAX_BODY, trust_app
from veil.trusted.wire import cbor
from veil.wiring.direct import DirectPlatform


@pytest.fixture
def url(platform: DirectPlatform) -> Iterator[str]:
    with serving(trust_app(platform.kms, platform.verifier, "admin")) as served:
        yield served


def chunks(total: int) -> Iterator[bytes]:
    """A body with no content-length: only counting the stream can refuse it."""
    for _ in range(total // 65536 + 1):
        yield b"\x00" * 65536


@pytest.mark.parametrize("path", ["/v1/functions", "/v1/release", "/v1/attestation/attest"])
def test_a_streamed_body_over_the_limit_is_413(url: str, path: str) -> None:
    response = httpx.post(f"{url}{path}", content=chunks(4 * MAX_BODY))
    assert response.status_code == 413


def test_an_attest_body_over_the_limit_is_413_even_if_it_is_json(url: str) -> None:
    body = b'{"tee": "sim", "evidence": "' + b"A" * MAX_BODY + b'", "binding": "", "nonce": ""}'
    assert httpx.post(f"{url}/v1/attestation/attest", content=body).status_code == 413


def test_a_registration_of_many_tiny_items_is_refused_as_malformed(url: str) -> None:
    stuffed = cbor.encode({"body": cbor.encode([0] * 100_000), "sig": b""})[: MAX_BODY - 1]
    response = httpx.post(f"{url}/v1/functions", content=stuffed)
    assert response.status_code == 400
    assert response.json()["error"] == "MalformedMessage"


def test_an_attest_body_that_is_not_json_is_a_400(url: str) -> None:
    response = httpx.post(f"{url}/v1/attestation/attest", content=b"{nope")
    assert response.status_code == 400
    assert response.json()["error"] == "MalformedMessage"

"""The gateway under floods from unauthenticated clients: bounded parsing and per-client limits.

A real gateway (its dispatcher with no warm enclaves) on a real uvicorn,
beside a real KMS; the flooding clients send bodies that are refused before
any enclave is involved, from their own loopback addresses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serving import serving
from veil.host.gateway.app import GatewayConfig
from veil.host.gateway.limits import ClientLimit
from veil.host.pool import PoolConfig
from veil.kms.server import trust_app
from veil.wiring.direct import DirectPlatform
from veil.wiring.services import build_gateway

TINY_ITEMS = 8 * 1024 * 1024 - 64
"""An array of that many zeros: just under the gateway's 8 MiB request limit."""


def tiny_items_body(count: int = TINY_ITEMS) -> bytes:
    return b"\x9a" + count.to_bytes(4, "big") + b"\x00" * count


def client_at(address: str) -> httpx.Client:
    """An HTTP client whose requests come from `address` (any 127/8 address is loopback)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=60)


def gateway(platform: DirectPlatform, tmp_path: Path, config: GatewayConfig) -> Iterator[str]:
    with serving(trust_app(platform.kms, platform.verifier, "admin")) as trust_url:
        app, _dispatcher = build_gateway(
            tmp_path, trust_url, PoolConfig(stem_cells=0, max_workers=1), config
        )
        with serving(app) as url:
            yield url


@pytest.fixture
def url(platform: DirectPlatform, tmp_path: Path) -> Iterator[str]:
    yield from gateway(platform, tmp_path, GatewayConfig())


@pytest.fixture
def limited(platform: DirectPlatform, tmp_path: Path) -> Iterator[str]:
    limit = ClientLimit(rate=0.01, burst=3)
    yield from gateway(
        platform, tmp_path, GatewayConfig(invoke_per_client=limit, deploy_per_client=limit)
    )


@pytest.mark.parametrize("path", ["/v1/invoke/acme/echo", "/v1/functions"])
def test_many_tiny_items_are_refused_as_malformed(url: str, path: str) -> None:
    started = time.perf_counter()
    response = httpx.post(f"{url}{path}", content=tiny_items_body(), timeout=60)
    assert response.status_code == 400
    assert response.json()["error"] == "MalformedMessage"
    assert time.perf_counter() - started < 3  # cbor2 on it took ~5 s and ~600 MB


def test_deeply_nested_deploy_body_is_refused_as_malformed(url: str) -> None:
    response = httpx.post(f"{url}/v1/functions", content=b"\x81" * 100_000 + b"\x00")
    assert response.status_code == 400


def test_healthz_stays_responsive_while_malformed_bodies_flood_in(url: str) -> None:
    body, stop, refused = tiny_items_body(), threading.Event(), []

    def flood(path: str) -> None:
        with httpx.Client(timeout=60) as flooder:
            for _ in range(6):
                if stop.is_set():
                    return
                refused.append(flooder.post(f"{url}{path}", content=body).status_code)

    floods = [
        threading.Thread(target=flood, args=(path,))
        for path in ("/v1/invoke/acme/echo", "/v1/functions", "/v1/invoke/acme/echo")
    ]
    for thread in floods:
        thread.start()
    slowest = 0.0
    try:
        with httpx.Client(timeout=30) as health:
            for _ in range(40):
                started = time.perf_counter()
                assert health.get(f"{url}/healthz").status_code == 200
                slowest = max(slowest, time.perf_counter() - started)
                time.sleep(0.02)
    finally:
        stop.set()
        for thread in floods:
            thread.join()
    assert refused and set(refused) == {400}
    assert slowest < 1.0


@pytest.mark.parametrize("path", ["/v1/invoke/acme/echo", "/v1/functions"])
def test_a_client_over_its_limit_gets_429_while_another_is_served(limited: str, path: str) -> None:
    with client_at("127.0.0.2") as greedy, client_at("127.0.0.3") as other:
        answers = [greedy.post(f"{limited}{path}", content=b"\x00").status_code for _ in range(3)]
        assert answers == [400, 400, 400]
        throttled = greedy.post(f"{limited}{path}", content=b"\x00")
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) >= 1
        assert throttled.json()["error"] == "TooManyRequests"
        assert other.post(f"{limited}{path}", content=b"\x00").status_code == 400


def test_the_limit_does_not_touch_health_or_reads(limited: str) -> None:
    with client_at("127.0.0.2") as greedy:
        for _ in range(5):
            greedy.post(f"{limited}/v1/invoke/acme/echo", content=b"\x00")
        assert greedy.get(f"{limited}/healthz").status_code == 200
        assert greedy.get(f"{limited}/v1/functions").status_code == 200

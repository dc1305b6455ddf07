"""Overload is answered quickly (429) instead of queueing forever; idle enclaves scale down."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import echo_bundle
from tests.host.test_end_to_end import spin_bundle
from veil.client.errors import GatewayError
from veil.wiring.embedded import EmbeddedPlatform


def slow_calls_in_background(platform: EmbeddedPlatform, count: int) -> list[threading.Thread]:
    """Start `count` slow requests and wait until the gateway holds all of them."""

    def call() -> None:
        with platform.client() as c:
            c.invoke("acme/spin", b"\x60slow")

    threads = [threading.Thread(target=call) for _ in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        health = httpx.get(f"{platform.gateway_url}/healthz").json()
        if health["inflight"] + health["queued"] >= count:
            break
        time.sleep(0.02)
    return threads


@pytest.mark.parametrize(
    "limits",
    [["--function-concurrency", "2"], ["--enclave-concurrency", "1", "--max-queue", "1"]],
    ids=["function-concurrency", "queue-full"],
)
def test_overload_is_answered_429_at_once(tmp_path: Path, limits: list[str]) -> None:
    platform = EmbeddedPlatform(tmp_path / "data", max_workers=1, gateway_args=limits).start()
    try:
        with platform.client() as client:
            platform.deploy(client, spin_bundle())
            client.invoke("acme/spin", b"\x00")
            busy = slow_calls_in_background(platform, 2)
            started = time.monotonic()
            with pytest.raises(GatewayError) as err:  # too short a timeout to retry in
                client.invoke("acme/spin", b"\x00", timeout_s=0.4)
            assert err.value.status == 429
            assert time.monotonic() - started < 0.5
            for thread in busy:
                thread.join(30)
    finally:
        platform.stop()


def test_idle_warm_enclaves_are_stopped_and_stem_cells_kept(tmp_path: Path) -> None:
    platform = EmbeddedPlatform(tmp_path / "data", gateway_args=["--idle-timeout", "1"]).start()
    try:
        with platform.client() as client:
            platform.deploy(client, echo_bundle())
            client.invoke("acme/echo", b"x")
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                states = [e["state"] for e in client.enclaves()]
                if "warm" not in states and "stem" in states:
                    break
                time.sleep(0.2)
            assert "warm" not in states and "stem" in states
            assert any(e["detail"].get("reason") == "idle" for e in client.events())
            assert client.invoke("acme/echo", b"again").output == b"again"
    finally:
        platform.stop()

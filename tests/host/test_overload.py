"""The real platform overloaded and broken on purpose: statuses, verification, recovery, cleanup.

Loopback only, bounded loops. Each test checks what a client sees (status,
`Retry-After`, a verified receipt on every 200) and what is left behind
(no enclave process outlives its gateway).
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import echo_bundle
from tests.host.test_end_to_end import spin_bundle
from veil.client.errors import GatewayError
from veil.client.invoke import open_response, seal
from veil.wiring.embedded import EmbeddedPlatform


def worker_pids(platform: EmbeddedPlatform) -> list[int]:
    return [e["pid"] for e in httpx.get(f"{platform.gateway_url}/v1/enclaves").json()]


def assert_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + 10
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _alive(p)]
        time.sleep(0.05)
    assert alive == []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_stem(platform: EmbeddedPlatform) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        states = [e["state"] for e in httpx.get(f"{platform.gateway_url}/v1/enclaves").json()]
        if "stem" in states:
            return
        time.sleep(0.05)
    raise AssertionError("no stem cell came up")


def test_a_burst_past_the_limit_gets_200s_that_verify_and_429s_with_retry_after(
    tmp_path: Path,
) -> None:
    args = ["--function-concurrency", "4", "--enclave-concurrency", "1"]
    platform = EmbeddedPlatform(tmp_path / "data", max_workers=1, gateway_args=args).start()
    try:
        with platform.client() as client:
            platform.deploy(client, spin_bundle())
            client.invoke("acme/spin", b"\x00")
            record, anchors = client.function("acme/spin"), client.trust
            (enclave,) = client.enclave_set("acme/spin")
        requests = [seal(record, b"\x02burst %d" % i, enclave=enclave) for i in range(24)]

        def post(i: int) -> tuple[int, httpx.Response]:
            response = httpx.post(
                f"{platform.gateway_url}/v1/invoke/acme/spin",
                content=requests[i].envelope,
                headers={"content-type": "application/cbor"},
                timeout=60,
            )
            return i, response

        with concurrent.futures.ThreadPoolExecutor(24) as pool:
            answers = list(pool.map(post, range(24)))
            started = time.monotonic()
            health = httpx.get(f"{platform.gateway_url}/healthz", timeout=5)
            health_s = time.monotonic() - started
        statuses = {r.status_code for _, r in answers}
        assert statuses <= {200, 429} and 429 in statuses and 200 in statuses
        for i, response in answers:
            if response.status_code == 200:
                assert open_response(requests[i], response.content, anchors).output.endswith(
                    b"burst %d" % i
                )
            else:
                assert response.json()["error"] == "Overloaded"
                assert int(response.headers["retry-after"]) >= 1
        assert health.status_code == 200 and health_s < 1.0
    finally:
        pids = worker_pids(platform)
        platform.stop()
        assert_gone(pids)


def test_the_sdk_retries_a_429_within_its_deadline_and_says_so(tmp_path: Path) -> None:
    args = ["--function-concurrency", "1"]
    platform = EmbeddedPlatform(tmp_path / "data", max_workers=1, gateway_args=args).start()
    lines: list[str] = []
    try:
        with platform.client() as client:
            platform.deploy(client, spin_bundle())
            client.invoke("acme/spin", b"\x00")
        with (
            platform.client() as busy,
            concurrent.futures.ThreadPoolExecutor(1) as pool,
        ):
            slow = pool.submit(busy.invoke, "acme/spin", b"\x40slow")
            time.sleep(0.3)
            with platform.client() as client:
                client.on_retry = lines.append
                invocation = client.invoke("acme/spin", b"\x00after", timeout_s=30)
            assert slow.result().output == b"\x40slow"
        assert invocation.output == b"\x00after"  # opened and verified, on a fresh request id
        assert lines and "429 Overloaded" in lines[0]
    finally:
        platform.stop()


def test_a_kms_outage_is_503_kms_unavailable_warm_functions_serve_and_it_recovers(
    tmp_path: Path,
) -> None:
    platform = EmbeddedPlatform(tmp_path / "data", max_workers=3, stem_cells=1).start()
    try:
        with platform.client() as client:
            platform.deploy(client, echo_bundle())
            platform.deploy(client, echo_bundle("acme/cold"))
            client.invoke("acme/echo", b"warm")
            wait_for_stem(platform)
            platform.stop_trust()

            assert client.invoke("acme/echo", b"still warm").output == b"still warm"
            with pytest.raises(GatewayError) as cold:
                client.invoke("acme/cold", b"x", timeout_s=2)
            with pytest.raises(GatewayError) as deploy:
                platform.deploy(client, echo_bundle("acme/new"))
            ready = httpx.get(f"{platform.gateway_url}/readyz")

            platform.start_trust()
            recovered = client.invoke("acme/cold", b"back", timeout_s=30)
        for refused in (cold.value, deploy.value):
            assert (refused.status, refused.kind) == (503, "KmsUnavailable")
            assert "127.0.0.1" not in refused.detail and "http" not in refused.detail
        assert ready.status_code == 503 and ready.json()["kms"] is False
        assert recovered.output == b"back"
        assert httpx.get(f"{platform.gateway_url}/readyz").status_code == 200
    finally:
        log = platform.stop_gateway()
        platform.stop()
    assert b"Traceback" not in log


def test_a_worker_killed_under_load_costs_no_client_an_error(tmp_path: Path) -> None:
    platform = EmbeddedPlatform(tmp_path / "data", max_workers=2, stem_cells=2).start()
    try:
        with platform.client() as client:
            platform.deploy(client, spin_bundle())
            client.invoke("acme/spin", b"\x00")

        def call(i: int) -> bytes:
            with platform.client() as c:
                return c.invoke("acme/spin", b"\x04load %d" % i, timeout_s=60).output

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            calls = [pool.submit(call, i) for i in range(24)]
            time.sleep(0.5)
            victims = [
                e["pid"]
                for e in httpx.get(f"{platform.gateway_url}/v1/enclaves").json()
                if "acme/spin" in e["functions"]
            ]
            os.kill(victims[0], signal.SIGKILL)
            outputs = [c.result() for c in calls]
        assert outputs == [b"\x04load %d" % i for i in range(24)]
    finally:
        pids = worker_pids(platform)
        platform.stop()
        assert_gone(pids)


def test_a_restarted_gateway_serves_what_was_deployed_and_leaves_no_worker_behind(
    tmp_path: Path,
) -> None:
    platform = EmbeddedPlatform(tmp_path / "data").start()
    try:
        with platform.client() as client:
            platform.deploy(client, echo_bundle())
            assert client.invoke("acme/echo", b"before").output == b"before"
            before = worker_pids(platform)
            platform.stop_gateway()
            assert_gone(before)
            platform.start_gateway()
            assert client.invoke("acme/echo", b"after").output == b"after"
    finally:
        pids = worker_pids(platform)
        platform.stop()
        assert_gone(pids)

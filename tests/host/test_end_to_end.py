"""The platform end to end: real HTTP server, real worker processes, a host that misbehaves."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cbor2
import httpx
import pytest

from tests.conftest import echo_bundle, small_limits
from tests.trusted.sandbox.test_reactor import module
from veil.attestation.policy import Policy
from veil.client.errors import GatewayError
from veil.client.invoke import seal
from veil.client.sdk import AsyncClient, Client, deploy_body
from veil.trusted.bundle import Bundle, Manifest, SealedBundle, SignedBundle
from veil.trusted.crypto import recipes
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.errors import BadSignature, MalformedMessage
from veil.wiring.embedded import EmbeddedPlatform


def spin_bundle(name: str = "acme/spin", timeout_ms: int = 10_000) -> Bundle:
    limits = small_limits(fuel=10**12, timeout_ms=timeout_ms)
    return Bundle(Manifest(name, "1", limits=limits), module("spin"))


@pytest.fixture
def running(tmp_path: Path) -> Iterator[EmbeddedPlatform]:
    platform = EmbeddedPlatform(tmp_path / "data").start()
    yield platform
    platform.stop()


@pytest.fixture
def client(running: EmbeddedPlatform) -> Iterator[Client]:
    with running.client() as c:
        yield c


def test_deploy_invoke_and_verify_through_http(running: EmbeddedPlatform, client: Client) -> None:
    running.deploy(client, echo_bundle())
    invocation = client.invoke("acme/echo", b"over http")
    assert invocation.output == b"over http"
    assert invocation.attestation.tee == "sim"
    assert invocation.receipt.bundle_digest == client.function("acme/echo").digest


def test_first_call_cold_starts_and_later_calls_are_warm(
    running: EmbeddedPlatform, client: Client
) -> None:
    running.deploy(client, echo_bundle())
    for _ in range(5):
        client.invoke("acme/echo", b"x")
    kinds = [e["kind"] for e in client.events()]
    assert kinds.count("cold_start") == 1
    metrics = httpx.get(f"{running.gateway_url}/metrics").text
    assert 'veil_cold_starts_total{function="acme/echo"} 1.0' in metrics
    assert 'veil_requests_total{function="acme/echo",outcome="ok"} 5.0' in metrics
    assert "veil_rewinds_total 5.0" in metrics


def test_openapi_and_health_are_served(running: EmbeddedPlatform) -> None:
    paths = httpx.get(f"{running.gateway_url}/openapi.json").json()["paths"]
    assert "/v1/invoke/{name}" in paths and "/v1/functions" in paths
    assert httpx.get(f"{running.gateway_url}/healthz").json()["status"] == "ok"


def test_worker_killed_mid_invocation_is_retried_and_the_pool_heals(
    running: EmbeddedPlatform, client: Client
) -> None:
    running.deploy(client, spin_bundle())
    client.invoke("acme/spin", b"\x00warm")
    victim = next(e for e in client.enclaves() if "acme/spin" in e["functions"])
    result: dict[str, object] = {}

    def call() -> None:
        try:
            result["output"] = client.invoke("acme/spin", b"\x60slow request").output
        except GatewayError as exc:
            result["error"] = exc.kind

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.3)
    os.kill(victim["pid"], signal.SIGKILL)
    thread.join(60)
    assert not thread.is_alive()
    assert result.get("output") == b"\x60slow request" or result.get("error") == "WorkerDied"
    kinds = [e["kind"] for e in client.events()]
    assert "enclave_died" in kinds
    assert client.invoke("acme/spin", b"\x00after").output == b"\x00after"
    assert all(e["pid"] != victim["pid"] for e in client.enclaves())


def test_kms_restart_keeps_functions_invocable(running: EmbeddedPlatform, client: Client) -> None:
    running.deploy(client, echo_bundle())
    record = client.function("acme/echo")
    running.stop_trust()
    running.start_trust()
    running.stop_gateway()
    running.start_gateway()  # fresh workers: the next call needs a key release from the KMS
    with running.client() as fresh:
        assert fresh.function("acme/echo") == record
        assert fresh.invoke("acme/echo", b"after restart").output == b"after restart"


def test_gateway_restart_loses_nothing_deployed(running: EmbeddedPlatform, client: Client) -> None:
    running.deploy(client, echo_bundle("acme/one"))
    running.deploy(client, echo_bundle("acme/two"))
    running.stop_gateway()
    running.start_gateway()
    with running.client() as fresh:
        assert [f["name"] for f in fresh.functions()] == ["acme/one", "acme/two"]
        assert fresh.invoke("acme/two", b"still deployed").output == b"still deployed"


def test_200_concurrent_invocations_none_lost_or_duplicated(
    running: EmbeddedPlatform, client: Client
) -> None:
    running.deploy(client, echo_bundle())
    client.invoke("acme/echo", b"warm up")

    async def load() -> list[bytes]:
        async with AsyncClient(running.gateway_url, running.trust()) as ac:
            results = await asyncio.gather(
                *(ac.invoke("acme/echo", f"request {i}".encode()) for i in range(200))
            )
        return [r.output for r in results]

    outputs = asyncio.run(load())
    assert sorted(outputs) == sorted(f"request {i}".encode() for i in range(200))
    ok = [
        line
        for line in httpx.get(f"{running.gateway_url}/metrics").text.splitlines()
        if line.startswith('veil_requests_total{function="acme/echo",outcome="ok"}')
    ]
    assert ok == ['veil_requests_total{function="acme/echo",outcome="ok"} 201.0']


def test_malformed_invoke_bodies_are_400(running: EmbeddedPlatform, client: Client) -> None:
    running.deploy(client, echo_bundle())
    url = f"{running.gateway_url}/v1/invoke/acme/echo"
    for body in (b"", b"not cbor at all", cbor2.dumps({"meta": {}, "sealed": b""}), b"\xff" * 100):
        response = httpx.post(url, content=body)
        assert response.status_code == 400, body
        assert response.json()["error"] == "MalformedMessage"


def test_envelope_routed_to_another_function_is_refused(
    running: EmbeddedPlatform, client: Client
) -> None:
    running.deploy(client, echo_bundle("acme/a"))
    running.deploy(client, echo_bundle("acme/b"))
    envelope = seal(client.function("acme/a"), b"x", enclave=client.enclave_for("acme/a")).envelope
    response = httpx.post(f"{running.gateway_url}/v1/invoke/acme/b", content=envelope)
    assert (response.status_code, response.json()["error"]) == (400, "MalformedMessage")


def test_oversize_uploads_are_413(running: EmbeddedPlatform) -> None:
    big = b"\x00" * (9 * 1024 * 1024)
    response = httpx.post(f"{running.gateway_url}/v1/invoke/acme/echo", content=big)
    assert response.status_code == 413


def test_unknown_function_is_404(running: EmbeddedPlatform, client: Client) -> None:
    running.deploy(client, echo_bundle())
    record = client.function("acme/echo")
    ghost_record = dataclasses.replace(record, name="acme/ghost")
    ghost = seal(ghost_record, b"x", enclave=client.enclave_for("acme/echo")).envelope
    response = httpx.post(f"{running.gateway_url}/v1/invoke/acme/ghost", content=ghost)
    assert response.status_code == 404


def test_deploy_signed_by_a_stranger_is_refused(running: EmbeddedPlatform, client: Client) -> None:
    stranger = SigningKey.generate()
    seal_key = client.trust.kms_seal_key
    assert seal_key is not None
    body = deploy_body(echo_bundle(), "acme", stranger, Policy.development(), seal_key=seal_key)
    with pytest.raises(BadSignature):
        client._call("POST", "/v1/functions", content=body)
    assert client.functions() == []


def test_deploy_for_an_unregistered_tenant_is_refused(client: Client) -> None:
    """The KMS's own refusals reach the SDK by name: it does not import the KMS's classes."""
    key = SigningKey.generate()
    with pytest.raises(GatewayError) as err:
        client.deploy(echo_bundle("ghost/fn"), tenant="ghost", key=key, policy=Policy.development())
    assert (err.value.status, err.value.kind) == (404, "UnknownTenant")


def test_bundle_signed_by_another_key_than_the_registration_is_refused(
    running: EmbeddedPlatform, client: Client
) -> None:
    bundle = echo_bundle()
    seal_key = client.trust.kms_seal_key
    assert seal_key is not None
    good = cbor2.loads(
        deploy_body(bundle, "acme", running.tenant_key, Policy.development(), seal_key=seal_key)
    )
    resigned = SignedBundle.sign(bundle, SigningKey.generate())
    good["bundle"] = SealedBundle.seal(resigned, recipes.new_symmetric_key()).to_bytes()
    response = httpx.post(f"{running.gateway_url}/v1/functions", content=cbor2.dumps(good))
    assert (response.status_code, response.json()["error"]) == (403, "BundleRefused")
    assert client.functions() == []


def test_a_deploy_without_a_registration_is_malformed(running: EmbeddedPlatform) -> None:
    """One way to deploy: a KMS record in place of the tenant-signed registration (the old
    record-only path) is refused, whoever signed the record."""
    sealed = SealedBundle.seal(SignedBundle.sign(echo_bundle(), running.tenant_key), bytes(32))
    body = cbor2.dumps({"bundle": sealed.to_bytes(), "record": b"a signed record"})
    response = httpx.post(f"{running.gateway_url}/v1/functions", content=body)
    assert (response.status_code, response.json()["error"]) == (400, "MalformedMessage")


def test_garbage_deploy_is_400(running: EmbeddedPlatform) -> None:
    for body in (b"", b"junk", cbor2.dumps({"bundle": b"x"})):
        assert httpx.post(f"{running.gateway_url}/v1/functions", content=body).status_code == 400


def test_expired_deadline_is_refused_before_an_enclave_runs_it(
    running: EmbeddedPlatform, client: Client
) -> None:
    """The gateway refuses on the plaintext deadline; the enclave's own refusal of an
    expired envelope (`RequestExpired`) is specified in tests/trusted/test_enclave.py."""
    running.deploy(client, echo_bundle())
    enclave = client.enclave_for("acme/echo")
    envelope = seal(client.function("acme/echo"), b"x", enclave=enclave, timeout_s=-1).envelope
    response = httpx.post(f"{running.gateway_url}/v1/invoke/acme/echo", content=envelope)
    assert (response.status_code, response.json()["error"]) == (504, "DeadlineExceeded")


def test_slow_function_past_its_deadline_is_504_quickly(
    running: EmbeddedPlatform, client: Client
) -> None:
    running.deploy(client, spin_bundle())
    client.invoke("acme/spin", b"\x00")
    started = time.monotonic()
    with pytest.raises(GatewayError) as err:
        client.invoke("acme/spin", b"\xff" * 4, timeout_s=0.5)
    assert err.value.status == 504
    assert time.monotonic() - started < 5


def test_replayed_envelope_through_the_gateway_is_refused(
    running: EmbeddedPlatform, client: Client
) -> None:
    running.deploy(client, echo_bundle())
    envelope = seal(client.function("acme/echo"), b"x", enclave=client.enclave_for("acme/echo"))
    url = f"{running.gateway_url}/v1/invoke/acme/echo"
    assert httpx.post(url, content=envelope.envelope).status_code == 200
    replay = httpx.post(url, content=envelope.envelope)
    assert replay.status_code == 403 and replay.json()["error"] == "ReplayedRequest"


def test_malformed_message_class_round_trips_to_the_sdk(
    running: EmbeddedPlatform, client: Client
) -> None:
    with pytest.raises(MalformedMessage):
        client._call("POST", "/v1/invoke/acme/echo", content=b"junk")


def test_the_gateway_recommends_enclaves_and_the_sdk_seals_to_one_of_them(
    running: EmbeddedPlatform, client: Client
) -> None:
    running.deploy(client, echo_bundle())
    url = f"{running.gateway_url}/v1/enclaves/acme/echo"
    (cold,) = httpx.get(url).json()["enclaves"]
    assert cold["warm"] is False and len(bytes.fromhex(cold["key_id"])) == 32
    invocation = client.invoke("acme/echo", b"x")
    (warm,) = httpx.get(url).json()["enclaves"]
    assert warm == {"key_id": cold["key_id"], "warm": True}
    assert invocation.receipt.enclave_key_id.hex() == cold["key_id"]


def test_the_enclaves_of_an_unknown_function_are_404(running: EmbeddedPlatform) -> None:
    answer = httpx.get(f"{running.gateway_url}/v1/enclaves/acme/ghost")
    assert (answer.status_code, answer.json()["error"]) == (404, "UnknownFunctionName")


def test_a_function_named_like_a_route_gets_its_record_and_runs(
    running: EmbeddedPlatform, client: Client
) -> None:
    """No route hangs below `/v1/functions/{name}`, where a name with `/` would reach it."""
    record = running.deploy(client, echo_bundle("acme/x/enclaves"))
    assert client.function("acme/x/enclaves", refresh=True) == record
    assert client.invoke("acme/x/enclaves", b"x").output == b"x"


def test_one_envelope_sent_many_times_at_once_runs_once(
    tmp_path: Path,
) -> None:
    platform = EmbeddedPlatform(tmp_path / "data", stem_cells=2, max_workers=2).start()
    try:
        with platform.client() as client:
            platform.deploy(client, echo_bundle())
            client.invoke("acme/echo", b"warm")
            enclave = client.enclave_for("acme/echo")
            request = seal(client.function("acme/echo"), b"once", enclave=enclave)
        url = f"{platform.gateway_url}/v1/invoke/acme/echo"

        async def flood() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=30) as http:
                return await asyncio.gather(
                    *(http.post(url, content=request.envelope) for _ in range(16))
                )

        answers = asyncio.run(flood())
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200] + [403] * 15
        assert {a.json()["error"] for a in answers if a.status_code == 403} == {"ReplayedRequest"}
        metrics = httpx.get(f"{platform.gateway_url}/metrics").text
        assert "veil_rewinds_total 2.0" in metrics  # the warm-up and this request, once
    finally:
        platform.stop()

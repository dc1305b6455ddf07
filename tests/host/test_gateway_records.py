"""The gateway serves the KMS's fresh record of a function, and a clean 404 for unknown names.

A real gateway (no enclaves needed) on a real uvicorn, beside a real KMS
served from this process so the tests can shorten its record validity.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import cbor2
import httpx
import pytest

from tests.conftest import echo_bundle
from tests.serving import serving
from veil.attestation.policy import Policy
from veil.client.sdk import Client
from veil.host.dispatcher import Dispatcher
from veil.host.gateway.records import FreshRecords
from veil.host.pool import PoolConfig
from veil.kms.server import trust_app
from veil.trusted.bundle import SignedBundle
from veil.trusted.crypto.signing import VerifyKey
from veil.trusted.wire.records import FunctionRecord
from veil.wiring.direct import DirectPlatform
from veil.wiring.services import build_gateway


class Gateway:
    def __init__(self, url: str, dispatcher: Dispatcher, platform: DirectPlatform) -> None:
        self.url, self.dispatcher, self.platform = url, dispatcher, platform

    def deploy(self, capture_logs: bool = False) -> FunctionRecord:
        with Client(self.url, self.platform.trust) as client:
            return client.deploy(
                echo_bundle(capture_logs=capture_logs),
                tenant="acme",
                key=self.platform.tenant_key,
                policy=Policy.development(),
            )

    def record(self, name: str = "acme/echo") -> FunctionRecord:
        answer = httpx.get(f"{self.url}/v1/functions/{name}")
        assert answer.status_code == 200, answer.text
        return FunctionRecord.verify(answer.content, self.platform.kms.public_key)


@pytest.fixture
def gateway(platform: DirectPlatform, tmp_path: Path) -> Iterator[Gateway]:
    with serving(trust_app(platform.kms, platform.verifier, "admin")) as trust_url:
        app, dispatcher = build_gateway(tmp_path, trust_url, PoolConfig(stem_cells=0))
        with serving(app) as url:
            yield Gateway(url, dispatcher, platform)


def test_get_answers_the_kms_fresh_record_not_the_registry_copy(gateway: Gateway) -> None:
    gateway.platform.kms.record_validity_ms = 2_000
    deployed = gateway.deploy()
    time.sleep(1.2)  # past half the validity: the KMS re-signs, the gateway asks it again
    served = gateway.record()
    stored = gateway.dispatcher.registry.get("acme/echo")
    assert stored is not None
    kept = FunctionRecord.verify(stored.record, gateway.platform.kms.public_key)
    assert kept.issued_ms == deployed.issued_ms < served.issued_ms
    assert (served.version, served.digest, served.public_key) == (
        deployed.version,
        deployed.digest,
        deployed.public_key,
    )


def test_get_after_a_redeploy_answers_the_new_version_at_once(gateway: Gateway) -> None:
    gateway.deploy()
    assert gateway.record().version == 1
    gateway.deploy(capture_logs=True)
    assert gateway.record().version == 2


def test_an_unknown_name_is_a_clean_404(gateway: Gateway) -> None:
    answer = httpx.get(f"{gateway.url}/v1/functions/acme/nope")
    assert answer.status_code == 404
    assert answer.json()["error"] == "UnknownFunctionName"


def test_a_name_that_is_not_utf8_is_a_clean_404(gateway: Gateway) -> None:
    answer = httpx.get(f"{gateway.url}/v1/functions/acme/%ED%A0%80%FF")
    assert answer.status_code == 404
    assert answer.json()["error"] == "UnknownFunctionName"


def test_with_the_registry_failing_the_kms_still_answers_for_known_and_unknown_names(
    gateway: Gateway,
) -> None:
    gateway.deploy()
    gateway.dispatcher.registry.close()
    assert gateway.record().version == 1
    answer = httpx.get(f"{gateway.url}/v1/functions/acme/nope")
    assert (answer.status_code, answer.json()["error"]) == (404, "UnknownFunctionName")


def test_a_replayed_deploy_of_an_older_record_is_409(gateway: Gateway) -> None:
    """The record-only deploy path: the registry refuses to go back (`StaleDeploy`)."""
    first = gateway.platform.deploy(echo_bundle())
    gateway.platform.deploy(echo_bundle(capture_logs=True))
    newer = gateway.platform.deploy(echo_bundle())
    signed = SignedBundle.sign(echo_bundle(), gateway.platform.tenant_key).to_bytes()
    for record in (newer, first):
        body = cbor2.dumps({"bundle": signed, "record": record.record_bytes})
        answer = httpx.post(f"{gateway.url}/v1/functions", content=body)
    assert (answer.status_code, answer.json()["error"]) == (409, "StaleDeploy")
    assert gateway.record().version == newer.record.version


def test_fresh_records_fetch_again_only_after_half_the_validity(platform: DirectPlatform) -> None:
    platform.kms.record_validity_ms = 10_000
    platform.deploy(echo_bundle())
    now, fetched = [time.time()], []

    async def fetch(name: str) -> bytes:
        fetched.append(name)
        return platform.kms.function_record(name)

    async def key() -> VerifyKey:
        return platform.kms.public_key

    async def gets() -> None:
        records = FreshRecords(fetch, key, clock=lambda: now[0])
        first = await records.get("acme/echo")
        now[0] += 4
        assert await records.get("acme/echo") == first
        assert len(fetched) == 1
        await records.get("acme/echo", version=2)  # the registry has a newer one: fetch
        assert len(fetched) == 2
        now[0] += 2
        await records.get("acme/echo")
        assert len(fetched) == 3

    asyncio.run(gets())

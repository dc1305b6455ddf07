"""The dispatcher and versions: an old version is never served once a newer one is deployed,
and an expired grant is renewed without the client noticing.

A real KMS + verifier process and real `python -m veil.trusted` workers; the
function is registered as a deploy does (KMS, then registry), but the
dispatcher is not told (`deployed`), as when another gateway took the deploy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import echo_bundle, register_in
from veil.client.invoke import Invocation, open_response, seal
from veil.client.sdk import Client
from veil.host.dispatcher import Dispatcher
from veil.host.pool import PoolConfig
from veil.host.registry import Registry
from veil.kms.remote import RemoteTrust
from veil.trusted.bundle import Bundle
from veil.trusted.enclave import StaleVersion
from veil.trusted.wire.records import FunctionRecord
from veil.wiring.embedded import EmbeddedPlatform

NAME = "acme/echo"


@dataclass
class Running:
    platform: EmbeddedPlatform
    dispatcher: Dispatcher
    remote: RemoteTrust

    def deploy(self, bundle: Bundle) -> FunctionRecord:
        return register_in(self.platform, self.remote, self.dispatcher.registry, bundle)

    async def invoke(self, record: FunctionRecord, data: bytes) -> Invocation:
        enclave = bytes.fromhex((await self.dispatcher.recommend(NAME))[0]["key_id"])
        request = seal(record, data, enclave=enclave)
        reply = await self.dispatcher.invoke(NAME, enclave, request.envelope, time.monotonic() + 30)
        return open_response(request, reply, self.platform.trust())

    def events(self, kind: str) -> list[dict[str, object]]:
        return [e for e in self.dispatcher.events.since() if e["kind"] == kind]


@asynccontextmanager
async def dispatching(platform: EmbeddedPlatform, tmp_path: Path) -> AsyncIterator[Running]:
    remote = RemoteTrust(platform.trust_url)
    registry = Registry(tmp_path / "registry.sqlite3")
    pool = PoolConfig(stem_cells=1, max_workers=2)
    dispatcher = Dispatcher(registry, remote, platform.data_dir / "sim-host.key", pool)
    await dispatcher.start()
    try:
        yield Running(platform, dispatcher, remote)
    finally:
        await dispatcher.stop()
        remote.close()
        registry.close()


@pytest.fixture
def short_grants(tmp_path: Path) -> Iterator[EmbeddedPlatform]:
    """A KMS whose grants last two seconds."""
    platform = EmbeddedPlatform(tmp_path / "short", trust_args=["--grant-ttl", "2"])
    platform.start_trust()
    platform.register_tenant()
    yield platform
    platform.stop()


def test_a_request_for_the_new_version_is_served_by_it_though_a_worker_holds_the_old(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> tuple[Invocation, FunctionRecord]:
        async with dispatching(trust, tmp_path) as running:
            v1 = running.deploy(echo_bundle())
            await running.invoke(v1, b"warm on v1")
            v2 = running.deploy(echo_bundle(capture_logs=True))  # the dispatcher is not told
            return await running.invoke(v2, b"for v2"), v2

    invocation, v2 = asyncio.run(main())
    assert invocation.output == b"for v2"
    assert invocation.receipt.bundle_digest == v2.digest


def test_a_request_for_the_old_version_is_refused_as_stale_once_the_new_one_is_deployed(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> None:
        async with dispatching(trust, tmp_path) as running:
            v1 = running.deploy(echo_bundle())
            await running.invoke(v1, b"warm on v1")
            v2 = running.deploy(echo_bundle(capture_logs=True))
            running.dispatcher.deployed(NAME, v2.version)
            with pytest.raises(StaleVersion):  # the client re-seals to the new record
                await running.invoke(v1, b"for v1")
            assert (await running.invoke(v2, b"for v2")).output == b"for v2"

    asyncio.run(main())


def test_a_deploy_takes_warm_workers_of_the_old_version_out_of_the_pool(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> None:
        async with dispatching(trust, tmp_path) as running:
            v1 = running.deploy(echo_bundle())
            await running.invoke(v1, b"warm on v1")
            v2 = running.deploy(echo_bundle(capture_logs=True))
            running.dispatcher.deployed(NAME, v2.version)
            assert not any(NAME in w.functions for w in running.dispatcher.workers.values())
            await running.invoke(v2, b"for v2")
            assert len(running.events("cold_start")) == 2
            assert running.events("request_retried") == []

    asyncio.run(main())


def test_an_expired_grant_is_renewed_and_the_request_served(
    short_grants: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> tuple[bytes, int, int]:
        async with dispatching(short_grants, tmp_path) as running:
            v1 = running.deploy(echo_bundle())
            await running.invoke(v1, b"warm")
            await asyncio.sleep(2.5)  # past the grant
            served = await running.invoke(v1, b"after the grant expired")
            return (
                served.output,
                len(running.events("grant_renewed")),
                len(running.events("cold_start")),
            )

    output, renewed, cold = asyncio.run(main())
    assert output == b"after the grant expired"
    assert (renewed, cold) == (1, 1)  # the same enclave, its sandbox kept


def test_a_deploy_through_the_gateway_retires_the_old_version_from_warm_enclaves(
    tmp_path: Path,
) -> None:
    """The gateway tells the dispatcher at once: no request has to hit the old enclave first."""
    with EmbeddedPlatform(tmp_path / "data") as platform, platform.client() as client:
        platform.deploy_bundle(client, echo_bundle())
        client.invoke(NAME, b"warm on v1")
        assert any(NAME in e["functions"] for e in client.enclaves())
        platform.deploy_bundle(client, echo_bundle(capture_logs=True))
        assert not any(NAME in e["functions"] for e in warm(client))
        assert client.invoke(NAME, b"on v2").output == b"on v2"


def warm(client: Client) -> list[dict[str, object]]:
    return [e for e in client.enclaves() if e["state"] != "dead"]

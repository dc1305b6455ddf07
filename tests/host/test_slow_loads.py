"""A cold load slower than an enclave's start is waited for, not taken for a dead enclave.

A Python component compiles for seconds (tens of seconds on a loaded machine): the
pool bounds a load by `load_timeout_s`, not by the spawn timeout. Before, such a load
killed the worker, and every re-sealed request then started a load that was killed
in turn. Here the enclave's answer to `install` is held back (as a slow compile
would), inside the call's own timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.adversary.host import HostileHost
from tests.conftest import echo_bundle
from veil.client.errors import GatewayError
from veil.host.ipc import Channel
from veil.host.pool import PoolConfig
from veil.wiring.embedded import EmbeddedPlatform

INSTALL_S = 3.0


@pytest.fixture
def slow_installs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every enclave answers `install` INSTALL_S late."""
    call, resolve = Channel.call, Channel._resolve
    installing: set[int] = set()

    async def slow_call(channel: Channel, op: str, arg: Any = b"", timeout: Any = None) -> bytes:
        if op == "install":
            installing.add(id(channel))
        return await call(channel, op, arg, timeout)

    def slow_resolve(channel: Channel, message: dict[str, Any]) -> None:
        if id(channel) in installing:  # the install is the only call in flight on it
            installing.discard(id(channel))
            asyncio.get_running_loop().call_later(INSTALL_S, resolve, channel, message)
        else:
            resolve(channel, message)

    monkeypatch.setattr(Channel, "call", slow_call)
    monkeypatch.setattr(Channel, "_resolve", slow_resolve)
    yield


def test_a_load_slower_than_the_spawn_timeout_is_served(
    trust: EmbeddedPlatform, slow_installs: None
) -> None:
    config = PoolConfig(stem_cells=1, max_workers=2, spawn_timeout_s=INSTALL_S - 1)
    with HostileHost(trust, config) as host, host.client() as client:
        trust.deploy_bundle(client, echo_bundle())
        assert client.invoke("acme/echo", b"slow load").output == b"slow load"
        assert not any(e["kind"] == "enclave_died" for e in client.events())


def test_a_load_past_the_load_timeout_is_refused_and_the_pool_recovers(
    trust: EmbeddedPlatform, slow_installs: None
) -> None:
    config = PoolConfig(stem_cells=1, max_workers=2, load_timeout_s=INSTALL_S - 1)
    with HostileHost(trust, config) as host, host.client() as client:
        trust.deploy_bundle(client, echo_bundle())
        with pytest.raises(GatewayError):
            client.invoke("acme/echo", b"stuck", timeout_s=20)
        assert any(e["kind"] == "enclave_died" for e in client.events())

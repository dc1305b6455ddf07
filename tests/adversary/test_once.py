"""Class 3, run a request twice: replays and misroutes, played by `HostileHost`.

A request names the one enclave it is for (its key id, bound into the
HPKE info); that enclave's replay window, which outlives re-installs, lets
it run once. Each row replays or reroutes a sealed request where the host
carries it, expects the typed refusal, then checks that the enclave still
serves and that the attacked request's input never reached the host.

Rerouting is the host's routing table lying (`misrouted`): the dispatcher
hands the envelope to another worker than the one whose key id it names.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.adversary.host import HostileHost
from tests.conftest import echo_bundle
from veil.client.sdk import Client
from veil.host.pool import PoolConfig, WorkerHandle
from veil.host.provision import load_function
from veil.trusted.enclave import WrongEnclave
from veil.trusted.replay import ReplayedRequest
from veil.wiring.embedded import EmbeddedPlatform

SECRET = b"transfer 100 EUR to mallory, once"
INVOKE = "/v1/invoke/acme/echo"


@pytest.fixture
def host(trust: EmbeddedPlatform) -> Iterator[HostileHost]:
    with HostileHost(trust, PoolConfig(stem_cells=2, max_workers=2)) as hostile:
        yield hostile


@pytest.fixture
def client(host: HostileHost, trust: EmbeddedPlatform) -> Iterator[Client]:
    with host.client() as client:
        trust.deploy_bundle(client, echo_bundle())
        assert client.invoke("acme/echo", b"warm").output == b"warm"
        yield client


def served_by(host: HostileHost, client: Client) -> tuple[bytes, WorkerHandle]:
    """Invoke with the secret; the envelope the host carried and the worker that ran it."""
    invocation = client.invoke("acme/echo", SECRET)
    worker = host.dispatcher.pool.named(invocation.receipt.enclave_key_id)
    assert worker is not None
    return host.client_tap.sent(INVOKE)[-1], worker


def other_than(host: HostileHost, worker: WorkerHandle) -> WorkerHandle:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        others = [w for w in list(host.dispatcher.workers.values()) if w is not worker]
        if others:
            return others[0]
        time.sleep(0.05)
    raise AssertionError("the pool has no other worker")


@contextlib.contextmanager
def misrouted(host: HostileHost, named: bytes, to: WorkerHandle) -> Iterator[None]:
    """The host's routing table sends what names enclave `named` to worker `to`."""
    pool = host.dispatcher.pool
    honest = pool.named
    pool.named = lambda key: to if key == named else honest(key)  # type: ignore[method-assign]
    try:
        yield
    finally:
        pool.named = honest  # type: ignore[method-assign]


def replay(host: HostileHost, envelope: bytes) -> httpx.Response:
    return host.client_tap.resend(host.url, INVOKE, envelope)


def refused_as(answer: httpx.Response, error: type[Exception]) -> None:
    assert (answer.status_code, answer.json()["error"]) == (403, error.__name__)


def assert_survives(host: HostileHost) -> None:
    assert host.serves("acme/echo") == b"still serving"
    assert not host.saw(SECRET)


def on_the_host_loop(host: HostileHost, coro: object) -> object:
    """Run `coro` on the gateway's event loop, where the workers' channels live."""
    loop = host.dispatcher.pool._loops[0].get_loop()
    return asyncio.run_coroutine_threadsafe(coro, loop).result(60)  # type: ignore[arg-type]


def test_an_envelope_replayed_to_the_enclave_it_names_is_refused(
    host: HostileHost, client: Client
) -> None:
    envelope, _ = served_by(host, client)
    refused_as(replay(host, envelope), ReplayedRequest)
    assert_survives(host)


def test_an_envelope_replayed_to_another_enclave_of_the_function_is_refused(
    host: HostileHost, client: Client
) -> None:
    envelope, worker = served_by(host, client)
    with misrouted(host, worker.key_id, to=other_than(host, worker)):
        refused_as(replay(host, envelope), WrongEnclave)
    assert_survives(host)


def test_an_envelope_replayed_after_the_function_is_reinstalled_is_refused(
    host: HostileHost, client: Client
) -> None:
    envelope, worker = served_by(host, client)
    entry = host.registry.get("acme/echo")
    assert entry is not None
    bundle = host.registry.bundle(entry.digest)
    assert bundle is not None
    call = host.dispatcher.pool.call(worker)
    on_the_host_loop(
        host, load_function(call, host.trust_tap, "acme/echo", entry.digest, bundle)
    )  # a fresh grant and a fresh sandbox: what used to reset the window
    refused_as(replay(host, envelope), ReplayedRequest)
    assert_survives(host)


def test_an_envelope_replayed_to_the_restarted_worker_is_refused(
    host: HostileHost, client: Client
) -> None:
    envelope, worker = served_by(host, client)
    os.kill(worker.process.pid, signal.SIGKILL)  # the host restarts it: new enclave keys
    deadline = time.monotonic() + 30
    while host.dispatcher.pool.named(worker.key_id) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    honest = replay(host, envelope)
    assert (honest.status_code, honest.json()["error"]) == (503, "UnknownEnclave")
    with misrouted(host, worker.key_id, to=other_than(host, worker)):
        refused_as(replay(host, envelope), WrongEnclave)
    assert_survives(host)


def test_a_request_routed_to_another_enclave_than_it_names_is_refused(
    host: HostileHost, client: Client
) -> None:
    named = client.enclave_for("acme/echo")
    worker = host.dispatcher.pool.named(named)
    assert worker is not None
    with misrouted(host, named, to=other_than(host, worker)), pytest.raises(WrongEnclave):
        client.invoke("acme/echo", SECRET)
    assert_survives(host)

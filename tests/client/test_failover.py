"""The SDK's retries keep a request at most once: the same envelope again after a refusal,
a new one (new request id, another enclave) only when the named enclave is gone.

A real embedded platform with two enclaves, behind a small real proxy that
plays the host: it answers chosen invocations with a refusal of its own
(after forwarding them, when it lies), and offers the SDK whom it likes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import echo_bundle
from tests.serving import serving
from veil.client.errors import GatewayError
from veil.client.retry import MAX_RESEALS
from veil.client.sdk import ENCLAVE_SET_TTL_S, AsyncClient, Client
from veil.trusted.errors import MalformedMessage
from veil.trusted.replay import ReplayedRequest
from veil.trusted.wire.envelope import Envelope, Metadata
from veil.wiring.embedded import EmbeddedPlatform

ECHO = "acme/echo"


@dataclass
class Host:
    """What the proxy does to each invocation, in order; "forward" once the script runs out.

    An action is "forward", ("refuse", kind) (answer 503 `kind` without
    forwarding), or ("lie", kind) (forward, then answer 503 `kind` instead).
    """

    upstream: str
    script: list[Any] = field(default_factory=list)
    offer_all: bool = False
    """Answer enclave-set asks with every attested enclave, not the gateway's recommendation."""
    enclave_set: Any = None
    """If set, the answer to every enclave-set ask."""
    posted: list[bytes] = field(default_factory=list)
    asked: int = 0

    async def invoke(self, request: Request) -> Response:
        body = await request.body()
        self.posted.append(body)
        action = self.script.pop(0) if self.script else "forward"
        if action != "forward" and action[0] == "refuse":
            return refusal(action[1])
        answer = await self.forward(request, body)
        if action != "forward":  # "lie": it ran; the client is told it did not
            return refusal(action[1])
        return answer

    async def enclaves(self, request: Request) -> Response:
        self.asked += 1
        if self.enclave_set is not None:
            return JSONResponse(self.enclave_set)
        if not self.offer_all:
            return await self.forward(request, b"")
        async with httpx.AsyncClient(base_url=self.upstream) as http:
            listed = (await http.get("/v1/enclaves")).json()
        keys = [{"key_id": e["key_id"], "warm": ECHO in e["functions"]} for e in listed]
        return JSONResponse({"enclaves": keys})

    async def forward(self, request: Request, body: bytes) -> Response:
        async with httpx.AsyncClient(base_url=self.upstream, timeout=30) as http:
            answer = await http.request(request.method, request.url.path, content=body)
        headers = {k: v for k, v in answer.headers.items() if k.lower() == "retry-after"}
        kind = answer.headers.get("content-type")
        return Response(answer.content, answer.status_code, headers, media_type=kind)

    def app(self) -> Starlette:
        async def other(request: Request) -> Response:
            return await self.forward(request, await request.body())

        return Starlette(
            routes=[
                Route("/v1/invoke/{name:path}", self.invoke, methods=["POST"]),
                Route("/v1/enclaves/{name:path}", self.enclaves, methods=["GET"]),
                Route("/{path:path}", other, methods=["GET", "POST"]),
            ]
        )


def refusal(kind: str) -> Response:
    detail = {"error": kind, "detail": "said the host"}
    return JSONResponse(detail, 503, {"retry-after": "0" if kind != "QueueTimeout" else "1"})


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPlatform]:
    data = tmp_path_factory.mktemp("failover") / "data"
    platform = EmbeddedPlatform(data, stem_cells=2, max_workers=2).start()
    with platform.client() as client:
        platform.deploy(client, echo_bundle(ECHO))
        client.invoke(ECHO, b"warm")
    yield platform
    platform.stop()


@pytest.fixture
def host(running: EmbeddedPlatform) -> Iterator[tuple[Host, str]]:
    proxy = Host(running.gateway_url)
    with serving(proxy.app()) as url:
        yield proxy, url


Invoke = Callable[[EmbeddedPlatform, str, bytes, float], bytes]


def sync_invoke(running: EmbeddedPlatform, url: str, data: bytes, timeout_s: float) -> bytes:
    with Client(url, running.trust()) as client:
        return client.invoke(ECHO, data, timeout_s=timeout_s).output


def async_invoke(running: EmbeddedPlatform, url: str, data: bytes, timeout_s: float) -> bytes:
    async def call() -> bytes:
        async with AsyncClient(url, running.trust()) as client:
            return (await client.invoke(ECHO, data, timeout_s=timeout_s)).output

    return asyncio.run(call())


CLIENTS = pytest.mark.parametrize("invoke", [sync_invoke, async_invoke], ids=["sync", "async"])


def meta(envelope: bytes) -> Metadata:
    return Envelope.from_bytes(envelope).meta


def served(running: EmbeddedPlatform) -> float:
    """Requests the enclaves ran (the gateway's rewind count)."""
    metrics = httpx.get(f"{running.gateway_url}/metrics").text
    (line,) = [line for line in metrics.splitlines() if line.startswith("veil_rewinds_total ")]
    return float(line.split()[1])


@CLIENTS
def test_a_queue_refusal_is_answered_with_the_same_envelope(
    running: EmbeddedPlatform, host: tuple[Host, str], invoke: Invoke
) -> None:
    proxy, url = host
    proxy.script = [("refuse", "QueueTimeout")]
    assert invoke(running, url, b"again", 30) == b"again"
    first, second = proxy.posted
    assert first == second


@CLIENTS
@pytest.mark.parametrize("kind", ["UnknownEnclave", "WorkerDied"])
def test_a_gone_enclave_is_answered_by_sealing_anew_to_another(
    running: EmbeddedPlatform, host: tuple[Host, str], invoke: Invoke, kind: str
) -> None:
    proxy, url = host
    proxy.script, proxy.offer_all = [("refuse", kind)], True
    assert invoke(running, url, b"elsewhere", 30) == b"elsewhere"
    first, second = (meta(body) for body in proxy.posted)
    assert first.request_id != second.request_id
    assert first.enclave != second.enclave
    assert proxy.asked == 2  # the set is fetched again before sealing anew


def test_a_host_that_runs_a_request_and_claims_it_refused_cannot_run_it_again(
    running: EmbeddedPlatform, host: tuple[Host, str]
) -> None:
    proxy, url = host
    proxy.script = [("lie", "QueueTimeout")]
    before = served(running)
    with pytest.raises(ReplayedRequest):
        sync_invoke(running, url, b"once", 30)
    first, second = proxy.posted
    assert first == second
    assert served(running) - before == 1


def test_a_host_that_keeps_saying_the_enclave_is_gone_gets_at_most_max_reseals_new_envelopes(
    running: EmbeddedPlatform, host: tuple[Host, str]
) -> None:
    proxy, url = host
    proxy.script = [("refuse", "UnknownEnclave")] * 1000
    with pytest.raises(GatewayError) as refused:
        sync_invoke(running, url, b"x", 30)
    assert refused.value.kind == "UnknownEnclave"
    assert len({meta(body).request_id for body in proxy.posted}) == 1 + MAX_RESEALS


def test_failover_is_why_a_lying_host_can_run_a_request_twice_and_without_it_it_cannot(
    running: EmbeddedPlatform, host: tuple[Host, str]
) -> None:
    """The documented cost of failover (0002): the host runs the request, then says its
    enclave died; the SDK seals it anew and it runs again. `failover=False` refuses to."""
    proxy, url = host
    proxy.script, proxy.offer_all = [("lie", "WorkerDied")], True
    before = served(running)
    assert sync_invoke(running, url, b"twice", 30) == b"twice"
    assert served(running) - before == 2
    proxy.script = [("lie", "WorkerDied")]
    with Client(url, running.trust()) as client, pytest.raises(GatewayError) as refused:
        client.invoke(ECHO, b"once", failover=False)
    assert refused.value.kind == "WorkerDied"
    assert served(running) - before == 3


def test_the_enclave_set_is_asked_for_once_per_ttl(
    running: EmbeddedPlatform, host: tuple[Host, str]
) -> None:
    proxy, url = host
    with Client(url, running.trust()) as client:
        client.invoke(ECHO, b"1")
        client.invoke(ECHO, b"2")
        asked = proxy.asked
        time.sleep(ENCLAVE_SET_TTL_S + 0.1)
        client.invoke(ECHO, b"3")
    assert (asked, proxy.asked) == (1, 2)


@pytest.mark.parametrize(
    "answer",
    [
        {"enclaves": []},
        {"enclaves": [{"key_id": "zz"}]},
        {"enclaves": [{"key_id": "00" * 31}]},
        {"enclaves": "all of them"},
        [],
    ],
    ids=repr,
)
def test_an_enclave_set_that_does_not_parse_is_refused(
    running: EmbeddedPlatform, host: tuple[Host, str], answer: Any
) -> None:
    proxy, url = host
    proxy.enclave_set = answer
    with pytest.raises(MalformedMessage):
        sync_invoke(running, url, b"x", 5)
    assert proxy.posted == []

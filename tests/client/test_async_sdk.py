"""`AsyncClient` against a real embedded platform (KMS process, gateway process, enclave workers).

The gateway is untrusted for anything but delivery, so beside the happy
path a small real proxy plays a hostile gateway: it flips a bit in the
answer or hands back another request's answer, and the SDK must refuse.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import cbor2
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import echo_bundle
from tests.serving import serving
from veil.attestation.policy import Policy
from veil.client.errors import GatewayError, GatewayUnavailable
from veil.client.invoke import ReceiptInvalid
from veil.client.sdk import AsyncClient
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.errors import BadSignature
from veil.trusted.wire.records import FunctionRecord
from veil.wiring.embedded import EmbeddedPlatform
from veil.wiring.processes import free_port

T = TypeVar("T")
Tamper = Callable[[bytes], bytes]


def run(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(make())


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPlatform]:
    platform = EmbeddedPlatform(tmp_path_factory.mktemp("async-sdk") / "data").start()
    with platform.client() as client:
        platform.deploy(client, echo_bundle("acme/echo"))
    yield platform
    platform.stop()


def client_of(running: EmbeddedPlatform, url: str | None = None) -> AsyncClient:
    return AsyncClient(url or running.gateway_url, running.trust())


def test_deploy_returns_the_kms_signed_record(running: EmbeddedPlatform) -> None:
    bundle = echo_bundle("acme/async-deployed")

    async def deploy() -> FunctionRecord:
        async with client_of(running) as client:
            return await client.deploy(
                bundle, tenant="acme", key=running.tenant_key, policy=Policy.development()
            )

    record = run(deploy)
    assert (record.name, record.digest, record.version) == (bundle.manifest.name, bundle.digest, 1)
    with running.client() as sync:
        assert sync.function(record.name) == record


def test_invoke_returns_the_output_with_a_receipt_for_this_bundle(
    running: EmbeddedPlatform,
) -> None:
    async def invoke() -> tuple[Any, FunctionRecord]:
        async with client_of(running) as client:
            return await client.invoke("acme/echo", b"async hello"), await client.function(
                "acme/echo"
            )

    invocation, record = run(invoke)
    assert invocation.ok and invocation.output == b"async hello"
    assert invocation.receipt.function == "acme/echo"
    assert invocation.receipt.bundle_digest == record.digest
    assert invocation.attestation.tee == "sim"
    assert invocation.receipt.enclave_key_id == invocation.attestation.enclave_key.key_id


def test_concurrent_invocations_each_get_their_own_verified_answer(
    running: EmbeddedPlatform,
) -> None:
    inputs = [f"request {i}".encode() for i in range(40)]

    async def gather() -> list[Any]:
        async with client_of(running) as client:
            return list(await asyncio.gather(*(client.invoke("acme/echo", d) for d in inputs)))

    invocations = run(gather)
    assert [i.output for i in invocations] == inputs
    assert len({i.receipt.request_id for i in invocations}) == len(inputs)


def test_an_unknown_function_is_refused_as_such(running: EmbeddedPlatform) -> None:
    async def ghost() -> object:
        async with client_of(running) as client:
            return await client.invoke("acme/ghost", b"x")

    with pytest.raises(GatewayError) as refused:
        run(ghost)
    assert (refused.value.status, refused.value.kind) == (404, "UnknownFunctionName")


def test_a_deploy_for_an_unregistered_tenant_is_refused(running: EmbeddedPlatform) -> None:
    async def deploy() -> object:
        async with client_of(running) as client:
            return await client.deploy(
                echo_bundle("ghost/fn"),
                tenant="ghost",
                key=SigningKey.generate(),
                policy=Policy.development(),
            )

    with pytest.raises(GatewayError) as refused:
        run(deploy)
    assert (refused.value.status, refused.value.kind) == (404, "UnknownTenant")


def test_a_deploy_signed_by_a_stranger_is_refused(running: EmbeddedPlatform) -> None:
    async def deploy() -> object:
        async with client_of(running) as client:
            return await client.deploy(
                echo_bundle("acme/stranger"),
                tenant="acme",
                key=SigningKey.generate(),
                policy=Policy.development(),
            )

    with pytest.raises(BadSignature):
        run(deploy)


def test_a_gateway_that_is_not_there_is_unavailable(running: EmbeddedPlatform) -> None:
    async def invoke() -> object:
        async with client_of(running, f"http://127.0.0.1:{free_port()}") as client:
            return await client.invoke("acme/echo", b"x")

    with pytest.raises(GatewayUnavailable):
        run(invoke)


def hostile_gateway(upstream: str, tamper: Tamper) -> Starlette:
    """Forwards everything to the real gateway and rewrites each successful invoke answer."""

    async def forward(request: Request) -> Response:
        async with httpx.AsyncClient(base_url=upstream) as http:
            answer = await http.request(
                request.method,
                request.url.path,
                content=await request.body(),
                headers={"content-type": request.headers.get("content-type", "")},
            )
        body = answer.content
        if request.url.path.startswith("/v1/invoke/") and answer.status_code == 200:
            body = tamper(body)
        return Response(body, answer.status_code, media_type=answer.headers.get("content-type"))

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])


def flip_bit_in(field: str) -> Tamper:
    def tamper(body: bytes) -> bytes:
        response = cbor2.loads(body)
        value: bytes = response[field]
        response[field] = value[:-1] + bytes([value[-1] ^ 0x01])
        return cbor2.dumps(response)

    return tamper


def answer_of_an_earlier_request() -> Tamper:
    """Keeps the first answer it sees and hands it back for every later request."""
    kept: list[bytes] = []

    def tamper(body: bytes) -> bytes:
        if not kept:
            kept.append(body)
            return body
        return kept[0]

    return tamper


def invoke_through(running: EmbeddedPlatform, tamper: Tamper, calls: int = 1) -> None:
    with serving(hostile_gateway(running.gateway_url, tamper)) as url:

        async def invoke() -> None:
            async with client_of(running, url) as client:
                for i in range(calls):
                    await client.invoke("acme/echo", f"secret {i}".encode())

        run(invoke)


def test_the_hostile_proxy_forwards_untouched_answers(running: EmbeddedPlatform) -> None:
    invoke_through(running, lambda body: body, calls=2)


def test_an_answer_with_a_flipped_bit_in_the_sealed_result_is_refused(
    running: EmbeddedPlatform,
) -> None:
    with pytest.raises(ReceiptInvalid):
        invoke_through(running, flip_bit_in("sealed"))


def test_an_answer_with_a_flipped_bit_in_the_receipt_signature_is_refused(
    running: EmbeddedPlatform,
) -> None:
    with pytest.raises(BadSignature):
        invoke_through(running, flip_bit_in("receipt"))


def test_another_requests_answer_is_refused(running: EmbeddedPlatform) -> None:
    with pytest.raises(ReceiptInvalid, match="another request"):
        invoke_through(running, answer_of_an_earlier_request(), calls=2)


def test_a_remote_error_keeps_the_client_usable(running: EmbeddedPlatform) -> None:
    async def both() -> bytes:
        async with client_of(running) as client:
            with pytest.raises(GatewayError, match="UnknownFunctionName"):
                await client.invoke("acme/ghost", b"x")
            return (await client.invoke("acme/echo", b"still fine")).output

    assert run(both) == b"still fine"

"""Issue 10, class 5: stall and exhaust before anyone is authenticated.

Each row is an attack by a hostile host (or a client, or a gateway, to the
SDK): bytes shaped to make a decoder allocate and spin. Every row expects a
typed refusal, checks that the hostile bytes never reached cbor2 (the
defence: the bounded decoder's pre-scan; remove it and the row fails), that
the enclave still serves an honest request, and that the refusal carries no
plaintext. The gateway's and KMS's floods over real HTTP are in
tests/host/test_gateway_bounds.py and tests/kms/test_server_bounds.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cbor2
import pytest

from veil.client.invoke import open_response, seal
from veil.trusted import channel
from veil.trusted.enclave import Enclave
from veil.trusted.errors import MalformedMessage
from veil.trusted.wire import cbor
from veil.trusted.wire.envelope import MAX_ENVELOPE
from veil.wiring.direct import Deployed, DirectPlatform

SECRET = b"plaintext the host must never see"


def tiny_items(size: int) -> bytes:
    """An array of zeros `size` bytes long: one item a byte, the costliest shape for cbor2."""
    return b"\x9a" + (size - 5).to_bytes(4, "big") + b"\x00" * (size - 5)


def deep(depth: int) -> bytes:
    return b"\x81" * depth + b"\x00"


def stuffed_envelope(size: int) -> bytes:
    """An envelope shape with a metadata map padded with tiny items."""
    return cbor.encode({"meta": {"junk": [0] * size}, "sealed": b""})


def overlong_sealed() -> bytes:
    """An envelope whose payload declares 2^62 bytes."""
    return b"\xa2\x64meta\xa0\x66sealed\x5b" + (1 << 62).to_bytes(8, "big")


@dataclass(frozen=True)
class Context:
    platform: DirectPlatform
    enclave: Enclave
    echo: Deployed


@dataclass(frozen=True)
class Row:
    attack: str
    hostile: Callable[[], bytes]
    target: Callable[[Context, bytes], object]
    expected: type[Exception]


def to_enclave(ctx: Context, data: bytes) -> object:
    return ctx.enclave.handle(data)


def as_response(ctx: Context, data: bytes) -> object:
    """The SDK opening a hostile gateway's answer to an honest request."""
    return open_response(
        seal(ctx.echo.record, SECRET, enclave=ctx.enclave.key_id), data, ctx.platform.trust
    )


def as_frame(_ctx: Context, data: bytes) -> object:
    return channel.split_frames(bytearray(channel.HEADER.pack(len(data)) + data))


def as_key_request(ctx: Context, data: bytes) -> object:
    return ctx.platform.kms.release(data)


def as_registration(ctx: Context, data: bytes) -> object:
    return ctx.platform.kms.register_function(data)


ROWS = [
    Row("envelope of 8 MiB tiny items", lambda: tiny_items(8 << 20), to_enclave, MalformedMessage),
    Row(
        "envelope at its 16 MiB limit, all tiny items",
        lambda: tiny_items(MAX_ENVELOPE),
        to_enclave,
        MalformedMessage,
    ),
    Row(
        "envelope metadata padded with 100k items",
        lambda: stuffed_envelope(100_000),
        to_enclave,
        MalformedMessage,
    ),
    Row("envelope nested 100k deep", lambda: deep(100_000), to_enclave, MalformedMessage),
    Row("envelope payload declaring 2^62 bytes", overlong_sealed, to_enclave, MalformedMessage),
    Row(
        "response of 8 MiB tiny items to the SDK",
        lambda: tiny_items(8 << 20),
        as_response,
        MalformedMessage,
    ),
    Row(
        "response nested 100k deep to the SDK", lambda: deep(100_000), as_response, MalformedMessage
    ),
    Row("IPC frame of 8 MiB tiny items", lambda: tiny_items(8 << 20), as_frame, MalformedMessage),
    Row("IPC frame nested 100k deep", lambda: deep(100_000), as_frame, MalformedMessage),
    Row(
        "key request of 60 KiB tiny items",
        lambda: tiny_items(60 << 10),
        as_key_request,
        MalformedMessage,
    ),
    Row(
        "registration of 200 KiB tiny items",
        lambda: tiny_items(200 << 10),
        as_registration,
        MalformedMessage,
    ),
]


@pytest.fixture
def cbor2_inputs(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every message the bounded decoder hands to cbor2 (still decoded for real)."""
    seen: list[bytes] = []
    real = cbor2.loads

    def spy(data: bytes, **kw: object) -> object:
        seen.append(data)
        return real(data, **kw)

    monkeypatch.setattr(cbor.cbor2, "loads", spy)
    return seen


def still_serves(ctx: Context) -> None:
    request = seal(ctx.echo.record, b"after the attack", enclave=ctx.enclave.key_id)
    answer = open_response(request, ctx.enclave.handle(request.envelope), ctx.platform.trust)
    assert answer.output == b"after the attack"


@pytest.mark.parametrize("row", ROWS, ids=[r.attack for r in ROWS])
def test_stall_attack_is_refused_before_cbor2_and_the_enclave_keeps_serving(
    row: Row, platform: DirectPlatform, enclave: Enclave, echo: Deployed, cbor2_inputs: list[bytes]
) -> None:
    ctx, hostile = Context(platform, enclave, echo), row.hostile()
    with pytest.raises(row.expected) as refused:
        row.target(ctx, hostile)
    assert not any(seen is hostile or seen == hostile for seen in cbor2_inputs)
    assert SECRET not in str(refused.value).encode()
    still_serves(ctx)


def test_a_challenge_flood_keeps_the_nonce_table_capped_and_attestation_working(
    platform: DirectPlatform, echo: Deployed
) -> None:
    verifier = platform.verifier
    for _ in range(100_000):
        verifier.challenge()
    assert len(verifier.nonces) <= 10_000
    enclave = platform.start_enclave()  # a fresh challenge, attested at once
    platform.provision(enclave, echo)
    still_serves(Context(platform, enclave, echo))

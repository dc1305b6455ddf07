"""The host relays what an enclave asks of the verifier and the KMS, as opaque bytes.

An enclave makes no network call of its own. To attest it, the host fetches
a verifier nonce, asks the enclave for evidence bound to it, relays that to
the verifier and hands the signed result back, then anchors the enclave's
clock: the enclave's nonce to the KMS, the KMS-signed time back (again every
20 s from the pool, and after a clock refusal). To load a function, it asks
the enclave for a key request, relays it to the KMS and hands back the
grant (sealed to the enclave, KMS-signed) with the bundle. The enclave
checks everything it is handed, so the host can only delay or drop.

`call` is any `async (op, arg) -> bytes` to one enclave (a worker's
channel, or an enclave in this process); `trust` the sync KMS/verifier
client, whose calls `blocking` runs: in a thread by default, so the event
loop never blocks on HTTP; inline for objects in this process (a thread
per call there costs more than the call).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import cbor2

from veil.host.trust import TrustServices

Call = Callable[[str, Any], Awaitable[bytes]]
Blocking = Callable[..., Awaitable[Any]]


async def attest_enclave(
    call: Call, trust: TrustServices, blocking: Blocking = asyncio.to_thread
) -> str:
    """Challenge → evidence → attestation result → installed in the enclave; returns it."""
    nonce = await blocking(trust.challenge)
    reply = cbor2.loads(await call("evidence", nonce))
    token = await blocking(trust.attest, reply["tee"], reply["evidence"], reply["binding"], nonce)
    await call("attested", token)
    await anchor_clock(call, trust, blocking)
    return token


async def anchor_clock(
    call: Call, trust: TrustServices, blocking: Blocking = asyncio.to_thread
) -> None:
    """Nonce → KMS-signed time → installed in the enclave (`veil.trusted.clock`)."""
    nonce = await call("time_request", b"")
    await call("time_anchor", await blocking(trust.time_anchor, nonce))


async def load_function(
    call: Call,
    trust: TrustServices,
    function: str,
    digest: bytes,
    bundle: bytes,
    blocking: Blocking = asyncio.to_thread,
) -> dict[str, float]:
    """Key request → KMS grant → install; returns the `key_release_ms` and `install_ms`."""
    start = time.perf_counter()
    request = await call("key_request", {"fn": function, "digest": digest})
    grant = await blocking(trust.release, request)
    released = time.perf_counter()
    installed = cbor2.loads(await call("install", {"bundle": bundle, "grant": grant}))
    return {"key_release_ms": (released - start) * 1000, "install_ms": installed["install_ms"]}

"""Parsing untrusted request bodies without stalling the gateway's event loop.

Every body goes through the one bounded decoder (`veil.trusted.wire.cbor`),
whose pre-scan refuses too many items, deep nesting and overlong lengths
before cbor2 sees a byte, with per-kind item caps. On top of that the event
loop does only a fixed small amount of work per request: an envelope up to
`INLINE_BYTES` is parsed inline (a few items and one copy of at most that
much), anything larger, and every deploy (a sealed bundle of up to 64 MiB),
goes to a worker thread.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final

from veil.trusted.bundle import MAX_BUNDLE_SIZE, SealedBundle
from veil.trusted.wire import cbor
from veil.trusted.wire.envelope import Envelope, Metadata

INLINE_BYTES: Final = 64 * 1024
"""Largest envelope parsed on the event loop; a 16 MiB one copies its payload in a thread."""
MAX_DEPLOY: Final = MAX_BUNDLE_SIZE + 64 * 1024
DEPLOY_FIELDS: Final = {"bundle": bytes, "registration": bytes}


async def envelope_metadata(body: bytes) -> Metadata:
    """The routing metadata of an invoke body, or `MalformedMessage`."""
    if len(body) <= INLINE_BYTES:
        return Envelope.from_bytes(body).meta
    return (await asyncio.to_thread(Envelope.from_bytes, body)).meta


@dataclass(frozen=True)
class DeployBody:
    """A deploy request: the sealed bundle (parsed; its code stays ciphertext) and the
    tenant-signed registration, relayed to the KMS unread."""

    bundle: SealedBundle
    bundle_bytes: bytes
    registration: bytes


def parse_deploy(body: bytes) -> DeployBody:
    """Parse a deploy body (call it in a thread: the bundle is up to 64 MiB)."""
    parts = cbor.decode_map(body, limit=MAX_DEPLOY, fields=DEPLOY_FIELDS, canonical=False, items=8)
    bundle = parts["bundle"]
    return DeployBody(SealedBundle.from_bytes(bundle), bundle, parts["registration"])

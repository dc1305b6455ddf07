"""The host↔enclave frames (one format; `veil.host.ipc` imports it) and the serve loop.

A frame: 4-byte big-endian length, then a CBOR map: `{id, op, arg}` from the
host, `{id, ok, body}` or `{id, ok: false, error, detail}` back. The host is
the adversary: a frame over `MAX_FRAME` is refused from its header, before it
is buffered; bodies go through the strict bounded decoder; a frame that is not
a call ends the channel (no id to answer under); errors cross via `edge`.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from veil.trusted import edge
from veil.trusted.errors import MalformedMessage, MessageTooLarge
from veil.trusted.wire import cbor

HEADER: Final = struct.Struct(">I")
MAX_FRAME: Final = 32 * 1024 * 1024
READ_SIZE: Final = 64 * 1024
"""Bytes the enclave asks for per read. Not more: `recv(n)` allocates `n` bytes
up front, and at 1 MiB that allocation alone cost 20 µs a call (8× a 64 KiB read)."""

SPIN_S: Final = 0.0001
"""After a reply, how long the enclave polls for the next call before it blocks."""

Handler = Callable[[str, Any], bytes]


def frame(message: dict[str, Any]) -> bytes:
    body = cbor.encode_ordered(message)
    return HEADER.pack(len(body)) + body


def split_frames(buffer: bytearray) -> list[dict[str, Any]]:
    """Remove and return the complete frames in `buffer`; `MalformedMessage` ends the channel."""
    out: list[dict[str, Any]] = []
    offset = 0
    while len(buffer) - offset >= HEADER.size:
        (size,) = HEADER.unpack_from(buffer, offset)
        if size > MAX_FRAME:
            raise MessageTooLarge("frame over the size limit")
        end = offset + HEADER.size + size
        if end > len(buffer):
            break
        body = bytes(buffer[offset + HEADER.size : end])
        message = cbor.decode(body, limit=MAX_FRAME, canonical=False)
        if not isinstance(message, dict):
            raise MalformedMessage("a frame is a CBOR map")
        out.append(message)
        offset = end
    del buffer[:offset]
    return out


CALL: Final[Mapping[str, type | tuple[type, ...]]] = {
    "id": int,
    "op": str,
    "arg?": (bytes, str, dict),
}


def _reply(message: dict[str, Any], handler: Handler) -> bytes:
    try:
        body = handler(message["op"], message.get("arg", b""))
        return frame({"id": message["id"], "ok": True, "body": body})
    except Exception as exc:  # every error becomes a reply: the enclave keeps serving
        name, detail = edge.to_host(exc)
        return frame({"id": message["id"], "ok": False, "error": name, "detail": detail})


def _next_read(sock: socket.socket) -> bytes:
    """Poll for `SPIN_S`, then block: waking an idle (virtual) CPU costs tens of µs a call."""
    deadline = time.perf_counter() + SPIN_S
    while True:
        try:
            return sock.recv(READ_SIZE, socket.MSG_DONTWAIT)
        except BlockingIOError:
            if time.perf_counter() >= deadline:
                return sock.recv(READ_SIZE)


def serve(sock: socket.socket, handler: Handler) -> None:
    """Answer each call once handled; close the channel when the host hangs up or misframes."""
    buffer = bytearray()
    with sock:
        while data := _next_read(sock):
            buffer += data
            try:
                calls = [cbor.check_map(m, CALL) for m in split_frames(buffer)]
            except MalformedMessage:
                return
            for call in calls:
                sock.sendall(_reply(call, handler))

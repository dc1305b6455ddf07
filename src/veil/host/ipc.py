"""The host↔enclave channel: length-prefixed CBOR frames on a persistent socket.

One socketpair per worker, opened when the worker starts and kept for its
life: no per-call process, thread or connection. Calls carry ids, so the
dispatcher can pipeline several requests; one read by the worker takes a
whole burst of them, and each reply goes back as soon as it is ready.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import struct
import time
from collections.abc import Callable
from typing import Any, Final

import cbor2

HEADER: Final = struct.Struct(">I")
MAX_FRAME: Final = 32 * 1024 * 1024
READ_SIZE: Final = 64 * 1024
"""Bytes the worker asks for per read. Not more: `recv(n)` allocates `n` bytes
up front, and at 1 MiB that allocation alone cost 20 µs a call (8× a 64 KiB read)."""


class ChannelClosed(ConnectionError):
    """The worker on the other end is gone (exited, killed, or closed the channel)."""


class ChannelError(Exception):
    """The worker answered a call with an error; `name` is the error class it raised."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"{name}: {detail}")
        self.name, self.detail = name, detail


def frame(message: dict[str, Any]) -> bytes:
    body = cbor2.dumps(message)
    return HEADER.pack(len(body)) + body


def split_frames(buffer: bytearray) -> list[dict[str, Any]]:
    """Remove and return every complete frame at the start of `buffer`."""
    out: list[dict[str, Any]] = []
    offset = 0
    while len(buffer) - offset >= HEADER.size:
        (size,) = HEADER.unpack_from(buffer, offset)
        if size > MAX_FRAME:
            raise ChannelClosed("frame over the size limit")
        end = offset + HEADER.size + size
        if end > len(buffer):
            break
        out.append(cbor2.loads(bytes(buffer[offset + HEADER.size : end])))
        offset = end
    del buffer[:offset]
    return out


class _Protocol(asyncio.Protocol):
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            messages = split_frames(self.buffer)
        except (ChannelClosed, cbor2.CBORError):
            self.channel.transport.close()
            return
        for message in messages:
            self.channel._resolve(message)

    def connection_lost(self, exc: Exception | None) -> None:
        self.channel._fail_all()


def _expire(future: asyncio.Future[bytes]) -> None:
    if not future.done():
        future.set_exception(TimeoutError("no reply from the worker in time"))


class Channel:
    """The dispatcher's end: `await call(op, arg)` returns the worker's reply bytes."""

    transport: asyncio.Transport

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[bytes]] = {}
        self.closed = False

    @classmethod
    async def connect(cls, sock: socket.socket) -> Channel:
        channel = cls()
        loop = asyncio.get_running_loop()
        transport, _ = await loop.connect_accepted_socket(lambda: _Protocol(channel), sock)
        channel.transport = transport  # type: ignore[assignment]
        return channel

    async def call(self, op: str, arg: Any = b"", timeout: float | None = None) -> bytes:
        if self.closed:
            raise ChannelClosed("worker channel is closed")
        call_id = next(self._ids)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        self._pending[call_id] = future
        self.transport.write(frame({"id": call_id, "op": op, "arg": arg}))
        # a timer on the future itself: cheaper than `asyncio.wait_for`'s extra task machinery
        timer = None if timeout is None else loop.call_later(timeout, _expire, future)
        try:
            return await future
        finally:
            if timer is not None:
                timer.cancel()
            self._pending.pop(call_id, None)

    @property
    def inflight(self) -> int:
        return len(self._pending)

    def _resolve(self, message: dict[str, Any]) -> None:
        future = self._pending.pop(message.get("id", -1), None)
        if future is None or future.done():
            return
        if message.get("ok"):
            future.set_result(message.get("body", b""))
        else:
            future.set_exception(ChannelError(message.get("error", "?"), message.get("detail", "")))

    def _fail_all(self) -> None:
        self.closed = True
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ChannelClosed("worker channel closed mid-call"))
        self._pending.clear()

    def close(self) -> None:
        if not self.closed:
            self.transport.close()
            self._fail_all()


Handler = Callable[[str, Any], bytes]


def _reply(message: dict[str, Any], handler: Handler) -> bytes:
    try:
        body = handler(message["op"], message.get("arg", b""))
        return frame({"id": message["id"], "ok": True, "body": body})
    except Exception as exc:  # every error becomes a reply: the worker keeps serving
        return frame(
            {
                "id": message["id"],
                "ok": False,
                "error": type(exc).__name__,
                "detail": str(exc)[:500],
            }
        )


SPIN_S: Final = 0.0001
"""After a reply, how long the worker polls for the next request before it blocks."""


def _next_read(sock: socket.socket) -> bytes:
    """The next bytes from the dispatcher: polled for `SPIN_S`, then a blocking read.

    A worker that blocks at once lets its CPU go idle, and waking an idle
    (virtual) CPU costs tens of µs on every call of a ping-pong; polling
    briefly first keeps back-to-back calls off that path, and costs
    nothing when the next request is already waiting.
    """
    deadline = time.perf_counter() + SPIN_S
    while True:
        try:
            return sock.recv(READ_SIZE, socket.MSG_DONTWAIT)
        except BlockingIOError:
            if time.perf_counter() >= deadline:
                return sock.recv(READ_SIZE)


def serve(sock: socket.socket, handler: Handler) -> None:
    """The worker's end: answer frames until the dispatcher closes the channel.

    `handler` raises to answer with an error; its class name crosses the
    channel, its message too (the handler makes sure it holds no secret).
    One read takes every frame that has arrived; each is answered as soon
    as it is handled, so no reply waits for the work on a later request.
    """
    buffer = bytearray()
    while True:
        data = _next_read(sock)
        if not data:
            return
        buffer += data
        for message in split_frames(buffer):
            sock.sendall(_reply(message, handler))

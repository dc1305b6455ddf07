"""The host's end of the host↔enclave channel: async calls over a persistent socket.

One socketpair per worker, opened when the worker starts and kept for its
life: no per-call process, thread or connection. Calls carry ids, so the
dispatcher can pipeline several requests; the enclave answers each as soon
as it is ready. The frame format (and the enclave's serve loop) is
`veil.trusted.channel`: one format, defined inside the measured code.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from typing import Any

from veil.trusted import edge
from veil.trusted.channel import frame, split_frames
from veil.trusted.errors import InternalError, MalformedMessage, VeilError


class ChannelClosed(ConnectionError):
    """The worker on the other end is gone (exited, killed, or closed the channel)."""


class ChannelError(Exception):
    """The enclave answered a call with an error: `name` and `detail` are fixed strings
    from `veil.trusted.edge` (turn them back into the error with `rebuild`)."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"{name}: {detail}")
        self.name, self.detail = name, detail


def rebuild(name: str) -> VeilError:
    """The error an enclave reply names, with its public message; unlisted: `InternalError`."""
    cls = edge.REFUSALS.get(name, InternalError)
    return cls(cls.public_message)


class _Protocol(asyncio.Protocol):
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        try:
            messages = split_frames(self.buffer)
        except MalformedMessage:
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

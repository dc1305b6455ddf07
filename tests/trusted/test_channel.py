"""The enclave's end of the channel: bounded frames, strict decoding, fixed error text."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import cbor2
import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.trusted.channel import HEADER, MAX_FRAME, frame, serve, split_frames
from veil.trusted.errors import MalformedMessage, MessageTooLarge

SECRET = b"decrypted: the tenant's plaintext"


def handler(op: str, arg: Any) -> bytes:
    if op == "echo":
        return bytes(arg)
    if op == "leak":
        raise ValueError(f"could not parse {SECRET!r}")
    raise MalformedMessage(f"unknown op {op!r} near {SECRET!r}")


class Served:
    """A serve loop on one end of a socketpair, in a thread; the test is the host."""

    def __init__(self) -> None:
        self.host, enclave = socket.socketpair()
        self.host.settimeout(10)
        self.thread = threading.Thread(target=serve, args=(enclave, handler), daemon=True)
        self.thread.start()
        self.enclave = enclave
        self.buffer = bytearray()

    def replies(self, count: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while len(out) < count:
            data = self.host.recv(65536)
            assert data, "channel closed"
            self.buffer += data
            out += split_frames(self.buffer)
        return out

    def ended(self) -> bool:
        """The serve loop returned and sent nothing more."""
        self.thread.join(10)
        return not self.thread.is_alive() and self.host.recv(10) == b""


@pytest.fixture
def served() -> Iterator[Served]:
    s = Served()
    yield s
    s.host.close()
    s.thread.join(10)
    s.enclave.close()


def test_a_burst_of_calls_is_answered_call_by_call(served: Served) -> None:
    served.host.sendall(
        b"".join(frame({"id": i, "op": "echo", "arg": b"%d" % i}) for i in range(50))
    )
    replies = served.replies(50)
    assert [(r["id"], r["ok"], r["body"]) for r in replies] == [
        (i, True, b"%d" % i) for i in range(50)
    ]


def test_an_error_crosses_as_its_fixed_text_and_the_loop_keeps_serving(served: Served) -> None:
    served.host.sendall(frame({"id": 1, "op": "leak", "arg": b""}) + frame({"id": 2, "op": "nope"}))
    served.host.sendall(frame({"id": 3, "op": "echo", "arg": b"still here"}))
    first, second, third = served.replies(3)
    assert first == {"id": 1, "ok": False, "error": "InternalError", "detail": "internal error"}
    assert second == {
        "id": 2,
        "ok": False,
        "error": "MalformedMessage",
        "detail": "message does not parse",
    }
    assert third["body"] == b"still here"
    assert SECRET not in served.buffer


def test_a_frame_header_over_the_cap_ends_the_channel_unbuffered(served: Served) -> None:
    served.host.sendall(HEADER.pack(MAX_FRAME + 1) + b"x" * 100)
    assert served.ended()


@pytest.mark.parametrize(
    "message",
    [
        {"id": "1", "op": "echo"},
        {"id": 1, "op": b"echo"},
        {"id": 1, "op": "echo", "arg": 5},
        {"id": 1, "op": "echo", "extra": b""},
        {"id": True, "op": "echo"},
    ],
    ids=repr,
)
def test_a_frame_that_is_not_a_well_formed_call_ends_the_channel(
    served: Served, message: dict[str, Any]
) -> None:
    body = cbor2.dumps(message)
    served.host.sendall(HEADER.pack(len(body)) + body)
    assert served.ended()


def test_a_tagged_or_deeply_nested_body_ends_the_channel(served: Served) -> None:
    body = b"\x81" * 10_000 + b"\x00"  # ten thousand nested arrays
    served.host.sendall(HEADER.pack(len(body)) + body)
    assert served.ended()


def test_split_frames_leaves_a_partial_frame_for_the_next_read() -> None:
    data = frame({"id": 1, "op": "echo"}) + frame({"id": 2, "op": "echo"})
    buffer = bytearray(data[:-3])
    assert [m["id"] for m in split_frames(buffer)] == [1]
    buffer += data[-3:]
    assert [m["id"] for m in split_frames(buffer)] == [2] and buffer == b""


def test_split_frames_refuses_an_oversized_header_before_the_body_arrives() -> None:
    with pytest.raises(MessageTooLarge):
        split_frames(bytearray(HEADER.pack(2**32 - 1)))


@given(st.binary(max_size=512))
def test_split_frames_of_any_bytes_yields_maps_or_refuses(data: bytes) -> None:
    buffer = bytearray(HEADER.pack(len(data)) + data)
    try:
        messages = split_frames(buffer)
    except MalformedMessage:
        return
    assert all(isinstance(m, dict) for m in messages)


@pytest.mark.parametrize(
    "head",
    [b"\x5b", b"\x7b", b"\x9b", b"\xbb"],
    ids=["bytes", "text", "array", "map"],
)
def test_a_body_declaring_more_than_it_carries_is_refused_without_allocating(head: bytes) -> None:
    body = head + (2**62).to_bytes(8, "big") + b"\x00" * 64
    with pytest.raises(MalformedMessage):
        split_frames(bytearray(HEADER.pack(len(body)) + body))

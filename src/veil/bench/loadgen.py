"""A small, fast HTTP/1.1 load generator for loopback benchmarks.

httpx costs more per request than the servers it would measure, so this
speaks just enough HTTP/1.1 by hand: N keep-alive connections, each
sending one POST at a time from a list of pre-built bodies (each body is
sent at most once: sealed envelopes are single-use), until the bodies or
the time run out. It runs on uvloop, and `LoadGenerator` keeps it in its
own process so it never shares an event loop (or a GIL) with the server.

Only loopback: it refuses any other host.
"""

from __future__ import annotations

import asyncio
import pickle
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Any

LOOPBACK = ("127.0.0.1", "::1", "localhost")


class ProtocolViolation(ConnectionError):
    """The server answered with something this minimal HTTP/1.1 client does not speak."""


@dataclass
class LoadResult:
    concurrency: int
    sent: int
    """Bodies taken from the list (a prefix of it), answered or not."""
    ok: int
    errors: int
    """Answers other than 200, and connections that failed mid-request."""
    elapsed_s: float
    latencies_us: list[float]
    """Of the 200 answers to requests started after the warm-up."""
    statuses: dict[int, int] = field(default_factory=dict)
    samples: dict[int, bytes] = field(default_factory=dict)
    """Body index → response body, for every `sample_every`-th body (to verify)."""
    refused: int = 0
    """429 and 503 answers that were sent again at once (with `retry_refused`)."""
    longest_with_retries_us: float = 0.0
    """Of the 200 answers: the longest from a body's first send, its refusals included."""

    @property
    def rps(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0


class _Connection(asyncio.Protocol):
    """One keep-alive connection; `request` sends bytes and awaits (status, body)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._parse()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionResetError("connection closed mid-request"))

    def _parse(self) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        buf = self.buffer
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buf[:end]).lower()
        try:
            status = int(head[9:12])
            at = head.index(b"content-length:")
            eol = head.find(b"\r\n", at)
            length = int(head[at + 15 : eol if eol >= 0 else None])
        except ValueError:
            waiter.set_exception(ProtocolViolation("no status or content-length"))
            return
        total = end + 4 + length
        if len(buf) < total:
            return
        body = bytes(buf[end + 4 : total])
        del buf[:total]
        waiter.set_result((status, body))

    def request(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        if self.lost:
            raise ConnectionResetError("connection is closed")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter


def request_bytes(host: str, port: int, path: str, body: bytes, content_type: str) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def drive(
    host: str,
    port: int,
    path: str,
    bodies: list[bytes],
    concurrency: int,
    duration_s: float,
    warmup_s: float = 0.0,
    sample_every: int = 0,
    content_type: str = "application/cbor",
    retry_refused: bool = False,
) -> LoadResult:
    """Send `bodies` over `concurrency` connections for at most `duration_s` (plus warm-up).

    With `retry_refused`, a 429 or 503 is answered by sending the same body
    again at once: a client that retries without backing off. The same body
    is safe to resend: a refusal means no enclave saw it, so its request id
    is still unused.
    """
    if host not in LOOPBACK:
        raise ValueError("the load generator only targets loopback")
    loop = asyncio.get_running_loop()
    requests = [request_bytes(host, port, path, b, content_type) for b in bodies]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    samples: dict[int, bytes] = {}
    next_index = 0
    ok = errors = refused = 0
    longest = 0.0
    start = time.perf_counter()
    measure_from = start + warmup_s
    stop_at = measure_from + duration_s
    ok_in_window = 0
    window_end = measure_from

    async def worker() -> None:
        nonlocal next_index, ok, errors, ok_in_window, window_end, refused, longest
        _, conn = await loop.create_connection(_Connection, host, port)
        assert isinstance(conn, _Connection)
        try:
            while True:
                now = time.perf_counter()
                if next_index >= len(requests) or now >= stop_at:
                    return
                index = next_index
                next_index += 1
                first = now
                try:
                    status, body = await conn.request(requests[index])
                    while retry_refused and status in (429, 503) and time.perf_counter() < stop_at:
                        statuses[status] = statuses.get(status, 0) + 1
                        refused += 1
                        now = time.perf_counter()
                        status, body = await conn.request(requests[index])
                except (ConnectionError, ProtocolViolation):
                    errors += 1
                    return
                done = time.perf_counter()
                statuses[status] = statuses.get(status, 0) + 1
                if status != 200:
                    errors += 1
                    continue
                ok += 1
                if first >= measure_from:
                    longest = max(longest, done - first)
                if now >= measure_from:
                    latencies.append((done - now) * 1e6)
                    if done <= stop_at:
                        ok_in_window += 1
                        window_end = max(window_end, done)
                if sample_every and index % sample_every == 0:
                    samples[index] = body
        finally:
            if conn.transport is not None:
                conn.transport.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    ran_out = next_index >= len(requests) and time.perf_counter() < stop_at
    elapsed = (window_end if ran_out else stop_at) - measure_from
    return LoadResult(
        concurrency,
        next_index,
        ok_in_window,
        errors,
        elapsed,
        latencies,
        statuses,
        samples,
        refused,
        longest * 1e6,
    )


def run_load(
    host: str,
    port: int,
    path: str,
    bodies: list[bytes],
    concurrency: int,
    duration_s: float,
    warmup_s: float = 0.0,
    sample_every: int = 0,
    content_type: str = "application/cbor",
    retry_refused: bool = False,
) -> LoadResult:
    """`drive` on a fresh uvloop event loop (the entry point of the load process)."""
    import uvloop

    return uvloop.run(
        drive(
            host,
            port,
            path,
            bodies,
            concurrency,
            duration_s,
            warmup_s,
            sample_every,
            content_type,
            retry_refused,
        )
    )


class LoadGenerator:
    """The load generator in its own process (`python -m veil.bench.loadgen`), reused.

    A plain subprocess rather than multiprocessing, so it works whatever
    the parent's `__main__` is. Runs go in and results come back as
    length-prefixed pickles on its stdin/stdout: both ends are this module.
    """

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "veil.bench.loadgen"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def run(self, *args: Any, **kwargs: Any) -> LoadResult:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        _send(self._proc.stdin, (args, kwargs))
        result = _receive(self._proc.stdout)
        if isinstance(result, BaseException):
            raise result
        assert isinstance(result, LoadResult)
        return result

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> LoadGenerator:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


_LENGTH = struct.Struct(">Q")


def _send(stream: IO[bytes], obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("load generator process is gone")
    (size,) = _LENGTH.unpack(head)
    return pickle.loads(stream.read(size))


def main() -> None:
    """Serve runs from the parent until it closes our stdin."""
    # run as `-m`, this module is `__main__`: answer with the importable module's
    # classes, so the parent can unpickle them
    from veil.bench.loadgen import run_load

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            args, kwargs = _receive(stdin)
        except EOFError:
            return
        try:
            reply: object = run_load(*args, **kwargs)
        except Exception as exc:
            reply = exc
        _send(stdout, reply)


if __name__ == "__main__":
    main()

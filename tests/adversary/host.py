"""The hostile host as a fixture: it sits where the host sits and does what a host can.

A real gateway (in this process, on a real uvicorn), real enclave worker
processes behind its dispatcher, and a real KMS + verifier process. The host
owns four places, and this fixture taps each one:

- `client_tap`: between the SDK and the gateway (an httpx transport under the
  SDK's own client): every request and answer, by URL path.
- `enclave_tap`: between the dispatcher and the enclave workers (every IPC
  call, by op: `invoke`, `install`, `evidence`, ...) and their replies.
- `trust_tap`: between the host and the KMS and verifier (every relayed call,
  by method: `release`, `attest`, `function_record`, ...) and their answers.
- `registry`: the gateway's own store of records and bundles, to read or swap.

The enclave's clock is the host's too; `HostClock` is that clock for an
in-process enclave (the worker processes read the machine's real clock).

A tap records every message (`tap.log`) and applies rules to the next
matching ones: `rewrite` (any mutation: `flip_bit`, `truncate`, `splice`, a
whole substitution), `drop`, `delay`, and `hold` + `release` (reordering).
Recorded messages can be sent again (`resend`: duplicate, replay). `saw(secret)`
tells whether any byte the host carried or stored contains `secret`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cbor2
import httpx

from tests.serving import serving
from veil.client.sdk import Client
from veil.host.dispatcher import Dispatcher
from veil.host.gateway.app import gateway_app
from veil.host.ipc import Channel
from veil.host.logstore import LogStore
from veil.host.pool import PoolConfig
from veil.host.registry import Registry
from veil.kms.remote import RemoteTrust
from veil.wiring.embedded import EmbeddedPlatform

Mutation = Callable[[bytes], bytes]


class Dropped(ConnectionError):
    """The host dropped this message: to the sender it looks like the peer never answered."""


def flip_bit(data: bytes, index: int = -1) -> bytes:
    """`data` with the low bit of byte `index` flipped."""
    out = bytearray(data)
    out[index] ^= 1
    return bytes(out)


def truncate(keep: int) -> Mutation:
    return lambda data: data[:keep]


def splice(donor: bytes, *keys: str) -> Mutation:
    """Replace the named fields of a CBOR map with the donor map's (e.g. one envelope's
    metadata onto another's sealed payload)."""

    def mutate(data: bytes) -> bytes:
        target, source = cbor2.loads(data), cbor2.loads(donor)
        for key in keys:
            target[key] = source[key]
        return bytes(cbor2.dumps(target))

    return mutate


def replace(substitute: bytes) -> Mutation:
    return lambda _data: substitute


@dataclass
class Message:
    name: str
    """What it is: a URL path, an IPC op, a trust method."""
    data: bytes
    reply: bool = False


@dataclass
class _Rule:
    name: str
    reply: bool
    times: int | None
    action: Callable[[Message], Message | None] | None = None
    delay_s: float = 0.0
    hold: bool = False

    def matches(self, message: Message) -> bool:
        hit = message.reply == self.reply and message.name.startswith(self.name)
        return hit and self.times != 0


@dataclass
class Tap:
    """One place where the host carries messages: a log of them, and rules for the next ones."""

    log: list[Message] = field(default_factory=list)
    rules: list[_Rule] = field(default_factory=list)
    held: list[tuple[Message, asyncio.Future[None] | None]] = field(default_factory=list)

    def rewrite(
        self, name: str, mutation: Mutation, *, reply: bool = False, times: int | None = 1
    ) -> None:
        action = lambda m: Message(m.name, mutation(m.data), m.reply)  # noqa: E731
        self.rules.append(_Rule(name, reply, times, action))

    def drop(self, name: str, *, reply: bool = False, times: int | None = 1) -> None:
        self.rules.append(_Rule(name, reply, times, lambda _m: None))

    def delay(
        self, name: str, seconds: float, *, reply: bool = False, times: int | None = 1
    ) -> None:
        self.rules.append(_Rule(name, reply, times, delay_s=seconds))

    def clear(self) -> None:
        self.rules.clear()

    def sent(self, name: str, *, reply: bool = False) -> list[bytes]:
        """What passed (after rules), oldest first."""
        return [m.data for m in self.log if m.name.startswith(name) and m.reply == reply]

    def saw(self, secret: bytes) -> bool:
        return any(secret in m.data for m in self.log)

    def _apply(self, message: Message) -> tuple[Message | None, float]:
        delay = 0.0
        for rule in self.rules:
            if not rule.matches(message):
                continue
            if rule.times is not None:
                rule.times -= 1
            delay += rule.delay_s
            if rule.action is not None:
                result = rule.action(message)
                if result is None:
                    return None, delay
                message = result
        self.log.append(message)
        return message, delay

    def pass_sync(self, message: Message) -> bytes:
        passed, delay = self._apply(message)
        time.sleep(delay)
        if passed is None:
            raise Dropped(f"the host dropped {message.name}")
        return passed.data

    async def pass_async(self, message: Message) -> bytes:
        passed, delay = self._apply(message)
        await asyncio.sleep(delay)
        if passed is None:
            raise Dropped(f"the host dropped {message.name}")
        return passed.data


class TrustTap(Tap):
    """The host's relay to the KMS and verifier: wraps any `TrustServices`, method by method."""

    def __init__(self, inner: Any) -> None:
        super().__init__()
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def relayed(*args: Any) -> Any:
            args = tuple(
                self.pass_sync(Message(name, a)) if isinstance(a, bytes) else a for a in args
            )
            answer = attr(*args)
            if isinstance(answer, bytes | str):
                raw = answer.encode() if isinstance(answer, str) else answer
                out = self.pass_sync(Message(name, raw, reply=True))
                return out.decode() if isinstance(answer, str) else out
            return answer

        return relayed


class ClientTap(httpx.BaseTransport, Tap):
    """Between the SDK and the gateway: requests by path, answers by path (`reply=True`)."""

    def __init__(self) -> None:
        Tap.__init__(self)
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = self.pass_sync(Message(path, request.read()))
        forwarded = httpx.Request(
            request.method, request.url, headers=request.headers, content=body
        )
        forwarded.headers["content-length"] = str(len(body))
        response = self.inner.handle_request(forwarded)
        content = self.pass_sync(Message(path, response.read(), reply=True))
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return httpx.Response(response.status_code, headers=headers, content=content)

    def resend(self, url: str, path: str, data: bytes) -> httpx.Response:
        """Send recorded bytes again, as the host can at any time (it saw them)."""
        with httpx.Client(base_url=url, transport=self, timeout=30) as http:
            return http.post(path, content=data, headers={"content-type": "application/cbor"})


class EnclaveTap(Tap):
    """Between the dispatcher and its workers: every IPC call by op, and its reply."""

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        original = Channel.call
        tap = self

        async def call(
            channel: Channel, op: str, arg: Any = b"", timeout: float | None = None
        ) -> bytes:
            if isinstance(arg, bytes):
                arg = await tap.pass_async(Message(op, arg))
            else:
                tap.log.append(Message(op, cbor2.dumps(arg)))
            reply = await original(channel, op, arg, timeout)
            return await tap.pass_async(Message(op, reply, reply=True))

        Channel.call = call  # type: ignore[method-assign]
        try:
            yield
        finally:
            Channel.call = original  # type: ignore[method-assign]


@dataclass
class HostClock:
    """The clock an in-process enclave reads: the host's, so it can step it and change its rate."""

    offset_ms: int = 0
    rate: float = 1.0
    _start: float = field(default_factory=time.monotonic)
    _wall_start: int = field(default_factory=lambda: time.time_ns() // 1_000_000)

    def _elapsed_ms(self) -> int:
        return int((time.monotonic() - self._start) * 1000 * self.rate)

    def wall_ms(self) -> int:
        return self._wall_start + self._elapsed_ms() + self.offset_ms

    def monotonic_ms(self) -> int:
        return self._elapsed_ms() + self.offset_ms

    def step(self, delta_ms: int) -> None:
        self.offset_ms += delta_ms


class HostileHost:
    """The whole host, hostile: gateway, dispatcher and workers here, the KMS in its process.

    Use as a context manager over a started `EmbeddedPlatform`'s KMS (the
    `trust` fixture): `with HostileHost(trust) as host: client = host.client()`.
    """

    def __init__(self, platform: EmbeddedPlatform, pool: PoolConfig | None = None) -> None:
        self.platform = platform
        self.data_dir: Path = platform.data_dir
        self.pool = pool or PoolConfig(stem_cells=1, max_workers=2)
        self.client_tap, self.enclave_tap = ClientTap(), EnclaveTap()
        self.trust_tap = TrustTap(RemoteTrust(platform.trust_url))
        self.url = ""
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> HostileHost:
        self.registry = Registry(self.data_dir / "registry.sqlite3")
        self.dispatcher = Dispatcher(
            self.registry, self.trust_tap, self.data_dir / "sim-host.key", self.pool
        )
        logs = LogStore(self.data_dir / "logs.sqlite3")
        app = gateway_app(self.dispatcher, self.trust_tap, logs=logs)
        self._stack.enter_context(self.enclave_tap.installed())
        self.url = self._stack.enter_context(serving(app))
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stack.close()
        self.registry.close()
        self.trust_tap.inner.close()
        self.client_tap.inner.close()

    def client(self, tapped: bool = True) -> Client:
        """A client pinned to the KMS; its traffic passes `client_tap` unless `tapped=False`."""
        client = Client(self.url, self.platform.trust())
        if tapped:
            client._http.close()
            client._http = httpx.Client(base_url=self.url, transport=self.client_tap, timeout=30)
        return client

    def taps(self) -> tuple[Tap, ...]:
        return (self.client_tap, self.enclave_tap, self.trust_tap)

    def saw(self, secret: bytes) -> bool:
        """Whether any byte the host carried (taps) or stored (registry, logs) holds `secret`."""
        files = [*self.data_dir.glob("registry.sqlite3*"), *self.data_dir.glob("logs.sqlite3*")]
        stored = b"".join(p.read_bytes() for p in files)
        return secret in stored or any(tap.saw(secret) for tap in self.taps())

    def serves(self, name: str, data: bytes = b"still serving") -> bytes:
        """An honest invocation, untapped: what "the enclave keeps serving" checks."""
        with self.client(tapped=False) as client:
            return client.invoke(name, data).output

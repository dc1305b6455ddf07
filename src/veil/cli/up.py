"""`veil up`: the embedded platform in the foreground, until Ctrl-C or SIGTERM.

Where it listens comes from `client.json` (the URLs `veil init --gateway
URL --kms URL` wrote), the file every other command reads to reach it, so
the two cannot disagree; `--port` and `--trust-port` move the platform and
update `client.json` with it. It prints where everything is and a ready
line once the gateway serves, on a terminal and in a piped log alike. One
`veil up` per data directory (`veil.wiring.lock`).

Stopping is one orderly path whatever stops it (Ctrl-C, SIGTERM, SIGHUP,
a failure): uvicorn drains the gateway, whose shutdown stops the enclave
workers, then the KMS and verifier process is stopped; no child is left.
The children run in their own sessions, so a Ctrl-C reaches only `veil up`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Annotated, Final
from urllib.parse import urlsplit

import typer
import uvicorn

from veil.attestation.sim import WARNING
from veil.cli.context import human_errors, state
from veil.cli.output import err, error, plain, say, step, warn
from veil.cli.platform import register_local_tenant
from veil.client.config import ClientConfig
from veil.host.dispatcher import Dispatcher
from veil.host.pool import PoolConfig
from veil.kms.broker import DEFAULT_RETAIN
from veil.wiring.lock import DataDirInUse, hold_data_dir
from veil.wiring.processes import start_service, stop_process, wait_healthy
from veil.wiring.services import (
    DEFAULT_GATEWAY_PORT,
    DEFAULT_TRUST_PORT,
    build_gateway,
    server_config,
)

STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
DEFAULT_HOST: Final = "127.0.0.1"


class Stopped(Exception):
    """A stop signal arrived: unwind, stopping every child on the way out."""


class PortInUse(RuntimeError):
    """Something already listens where `veil up` would."""


@dataclass(frozen=True)
class Endpoints:
    """Where the platform listens (`host`) and the address clients use for it (`url_host`)."""

    host: str
    url_host: str
    port: int
    trust_port: int

    @property
    def gateway_url(self) -> str:
        return f"http://{self.url_host}:{self.port}"

    @property
    def trust_url(self) -> str:
        return f"http://{self.url_host}:{self.trust_port}"


def endpoints(
    config: ClientConfig | None, host: str | None, port: int | None, trust_port: int | None
) -> Endpoints:
    """The listen addresses: the options given, else the URLs in `client.json`, else defaults."""
    gateway = urlsplit(config.gateway) if config else None
    kms = urlsplit(config.kms) if config else None
    url_host = (gateway.hostname if gateway else None) or host or DEFAULT_HOST
    return Endpoints(
        host=host or url_host,
        url_host=url_host,
        port=port or (gateway.port if gateway else None) or DEFAULT_GATEWAY_PORT,
        trust_port=trust_port or (kms.port if kms else None) or DEFAULT_TRUST_PORT,
    )


def up(
    host: Annotated[
        str | None, typer.Option(help="listen address [the gateway URL's host in client.json]")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="gateway port [from client.json; this updates it]")
    ] = None,
    trust_port: Annotated[
        int | None, typer.Option(help="KMS and verifier port [from client.json; this updates it]")
    ] = None,
    stem_cells: Annotated[int, typer.Option(help="attested blank enclaves kept ready")] = 1,
    max_workers: Annotated[
        int, typer.Option(help="most enclave workers at once")
    ] = PoolConfig().max_workers,
    retain: Annotated[
        int, typer.Option(help="versions kept per function, each invocable as NAME@N", min=1)
    ] = DEFAULT_RETAIN,
) -> None:
    """Start the embedded platform in the foreground: KMS, verifier, gateway, enclave workers."""
    data_dir = state.data_dir
    with human_errors():
        config = ClientConfig.load(data_dir) if (data_dir / "client.json").exists() else None
    where = endpoints(config, host, port, trust_port)
    pool = PoolConfig(stem_cells=stem_cells, max_workers=max_workers)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(hold_data_dir(data_dir))
            for p in (where.trust_port, where.port):
                _check_free(where.host, p)
        except (DataDirInUse, PortInUse) as exc:
            error(exc)
            raise typer.Exit(1) from None
        if config is not None:
            _follow(config, where, data_dir)
        warn(WARNING)
        say(
            "veil up: gateway {} · KMS and verifier {} · data {}",
            where.gateway_url,
            where.trust_url,
            data_dir,
        )
        stack.enter_context(_stop_signals())
        with contextlib.suppress(Stopped):
            _run(where, data_dir, pool, retain)
    plain("stopped")


def _follow(config: ClientConfig, where: Endpoints, data_dir: Path) -> None:
    """Point `client.json` at where this platform listens, if an option moved it."""
    if (config.gateway, config.kms) == (where.gateway_url, where.trust_url):
        return
    config.gateway, config.kms = where.gateway_url, where.trust_url
    config.save(data_dir)
    plain(f"updated {data_dir / 'client.json'}: the CLI now reaches this platform")


def _check_free(host: str, port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(
                f"{host}:{port} is in use ({exc.strerror}); stop what listens there, or "
                "choose other ports with --port and --trust-port"
            ) from None


def _run(where: Endpoints, data_dir: Path, pool: PoolConfig, retain: int) -> None:
    """Serve until stopped; on the way out, whatever happened, stop every child."""
    options = ["--retain", str(retain)]
    trust = start_service("trust", data_dir, where.host, where.trust_port, options)
    dispatcher: Dispatcher | None = None
    try:
        with step("starting the KMS and verifier …"):
            wait_healthy(where.trust_url, process=trust)
        with contextlib.suppress(Exception):  # no tenant yet: `veil init` registers it later
            register_local_tenant(ClientConfig.load(data_dir))
        app, dispatcher = build_gateway(data_dir, where.trust_url, pool, retain=retain)
        server = uvicorn.Server(server_config(app, where.host, where.port))
        plain(f"starting the gateway and {pool.stem_cells} stem-cell enclave(s) …")
        asyncio.run(_serve(server, dispatcher, where))
    finally:
        with _ignoring(STOP_SIGNALS):
            if dispatcher is not None:
                _kill_leftovers(dispatcher)
            stop_process(trust)


async def _serve(server: uvicorn.Server, dispatcher: Dispatcher, where: Endpoints) -> None:
    task = asyncio.create_task(_announce(server, dispatcher, where))
    try:
        await server.serve()
    finally:
        task.cancel()


async def _announce(server: uvicorn.Server, dispatcher: Dispatcher, where: Endpoints) -> None:
    """The ready line once the gateway serves; then, on a terminal, a live status line."""
    while not server.started:
        await asyncio.sleep(0.05)
    say(
        "[green]ready[/]: gateway {} · KMS and verifier {} · {} attested enclave(s) · Ctrl-C stops",
        where.gateway_url,
        where.trust_url,
        len(dispatcher.workers),
    )
    while err.is_terminal and not server.should_exit:
        await asyncio.sleep(2)
        workers = dispatcher.workers.values()
        warm = sum(1 for w in workers if w.state == "warm")
        plain(f"\renclaves {len(workers)} ({warm} warm)   ", end="")


def _kill_leftovers(dispatcher: Dispatcher) -> None:
    """A worker the gateway's shutdown did not stop (it was cut short): kill it now."""
    for worker in list(dispatcher.workers.values()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.process.pid, signal.SIGKILL)


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise Stopped(signal.Signals(signum).name)


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """Every stop signal unwinds `veil up` the one orderly way (uvicorn re-raises it after
    its graceful shutdown, so it arrives here either way)."""
    previous = {sig: signal.signal(sig, _stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _ignoring(signals: tuple[signal.Signals, ...]) -> Iterator[None]:
    """While children are being stopped, a second Ctrl-C must not cut that short."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

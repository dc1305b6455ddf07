"""What builds and serves each service in a process: the KMS+verifier, and the gateway.

`veil up` and `EmbeddedPlatform` run each as `python -m veil.wiring.services
trust|gateway ...` (see `veil.wiring.processes.start_service`); everything
lives under one data directory and survives restarts:

    <data-dir>/kms.sqlite3, kms-master.key, kms-admin.token   the KMS
    <data-dir>/verifier.key, sim-host.key                       verifier, sim TEE
    <data-dir>/registry.sqlite3                                 bundles and records
    <data-dir>/logs.sqlite3                                     functions' sealed logs
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import threading
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from veil.attestation.service import AttestationService, ReferenceValues
from veil.attestation.sim import SimVerifier, load_or_create_host_key
from veil.client.config import DEFAULT_GATEWAY_PORT, DEFAULT_TRUST_PORT, default_data_dir
from veil.host.dispatcher import Dispatcher
from veil.host.gateway.app import GatewayConfig, gateway_app
from veil.host.logstore import LogStore
from veil.host.pool import PoolConfig
from veil.host.registry import Registry
from veil.kms.broker import DEFAULT_RETAIN, KeyBroker
from veil.kms.remote import RemoteTrust
from veil.kms.server import trust_app
from veil.kms.store import KmsStore, load_or_create_master_key
from veil.trusted.attest.sim import TEE, measurement
from veil.trusted.crypto.signing import SigningKey


def _secret_file(path: Path, make: bytes) -> bytes:
    """The file's bytes; on first use, `make`, written with mode 0600 (never world-readable)."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(make)
    return make


def admin_token(data_dir: Path) -> str:
    """The KMS admin token (tenant registration), created on first use."""
    return _secret_file(data_dir / "kms-admin.token", secrets.token_hex(32).encode()).decode()


def build_trust(
    data_dir: Path,
    production: bool = False,
    record_validity_s: float = 120.0,
    grant_ttl_s: float = 300.0,
    retain: int = DEFAULT_RETAIN,
) -> tuple[KeyBroker, AttestationService]:
    """The KMS and the sim verifier over the keys and store in `data_dir`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    sim_key = load_or_create_host_key(data_dir / "sim-host.key")
    verifier_key = SigningKey.from_bytes(
        _secret_file(data_dir / "verifier.key", SigningKey.generate().to_bytes())
    )
    verifier = AttestationService(
        verifier_key,
        {TEE: SimVerifier([sim_key.public])},
        ReferenceValues({TEE: {measurement().hex()}}),
    )
    store = KmsStore(
        data_dir / "kms.sqlite3", load_or_create_master_key(data_dir / "kms-master.key")
    )
    kms = KeyBroker(
        store,
        [verifier_key.public],
        production=production,
        record_validity_s=record_validity_s,
        grant_ttl_s=grant_ttl_s,
        retain=retain,
    )
    return kms, verifier


def server_config(app: FastAPI, host: str, port: int) -> uvicorn.Config:
    """How every Veil service runs: httptools, uvloop, no access log (bodies are sealed anyway)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        http="httptools",
        loop="uvloop",
    )


def serve_trust(
    data_dir: Path,
    host: str,
    port: int,
    record_validity_s: float = 120.0,
    grant_ttl_s: float = 300.0,
    retain: int = DEFAULT_RETAIN,
) -> None:
    kms, verifier = build_trust(
        data_dir, record_validity_s=record_validity_s, grant_ttl_s=grant_ttl_s, retain=retain
    )
    uvicorn.Server(server_config(trust_app(kms, verifier, admin_token(data_dir)), host, port)).run()


def build_gateway(
    data_dir: Path,
    trust_url: str,
    pool: PoolConfig | None = None,
    config: GatewayConfig | None = None,
    retain: int = DEFAULT_RETAIN,
) -> tuple[FastAPI, Dispatcher]:
    """The gateway app and its dispatcher, reaching the KMS and verifier at `trust_url`."""
    trust = RemoteTrust(trust_url)
    registry = Registry(data_dir / "registry.sqlite3", retain)
    dispatcher = Dispatcher(registry, trust, data_dir / "sim-host.key", pool)
    logs = LogStore(data_dir / "logs.sqlite3")
    return gateway_app(dispatcher, trust, config, logs), dispatcher


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m veil.wiring.services")
    parser.add_argument("service", choices=["trust", "gateway"])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int)
    parser.add_argument("--trust-url")
    parser.add_argument("--record-validity", type=float, default=120.0, help="KMS: seconds")
    parser.add_argument("--grant-ttl", type=float, default=300.0, help="KMS: seconds")
    parser.add_argument(
        "--retain",
        type=int,
        default=DEFAULT_RETAIN,
        help="KMS and gateway: versions kept per function (invocable as NAME@N)",
    )
    parser.add_argument("--stem-cells", type=int, default=1)
    parser.add_argument("--max-workers", type=int, default=PoolConfig().max_workers)
    parser.add_argument("--max-queue", type=int, default=PoolConfig().max_queue)
    parser.add_argument("--max-wait", type=float, default=PoolConfig().max_wait_s)
    parser.add_argument("--idle-timeout", type=float, default=PoolConfig().idle_timeout_s)
    parser.add_argument("--enclave-concurrency", type=int, default=PoolConfig().enclave_concurrency)
    parser.add_argument(
        "--function-concurrency", type=int, default=GatewayConfig().function_concurrency
    )
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop (as on SIGTERM) when stdin reaches end of file: the parent has exited",
    )
    return parser


def exit_with_parent() -> None:
    """Stop this process as SIGTERM would, once stdin (a pipe from the parent) is closed.

    The parent holds the pipe's other end until it exits, however it exits,
    so a service never outlives the `veil up` or test that started it.
    """

    def watch() -> None:
        # The raw descriptor, not sys.stdin: a daemon thread blocked in a buffered read
        # would abort the interpreter's own shutdown.
        with contextlib.suppress(OSError):
            while os.read(0, 4096):
                pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.exit_with_parent:
        exit_with_parent()
    if args.service == "trust":
        port = args.port or DEFAULT_TRUST_PORT
        serve_trust(
            args.data_dir, args.host, port, args.record_validity, args.grant_ttl, args.retain
        )
        return
    if not args.trust_url:
        raise SystemExit("the gateway needs --trust-url (the KMS and verifier)")
    pool = PoolConfig(
        stem_cells=args.stem_cells,
        max_workers=args.max_workers,
        max_queue=args.max_queue,
        max_wait_s=args.max_wait,
        idle_timeout_s=args.idle_timeout,
        enclave_concurrency=args.enclave_concurrency,
    )
    gateway_config = GatewayConfig(
        function_concurrency=args.function_concurrency, max_wait_s=args.max_wait
    )
    app, _ = build_gateway(args.data_dir, args.trust_url, pool, gateway_config, args.retain)
    uvicorn.Server(server_config(app, args.host, args.port or DEFAULT_GATEWAY_PORT)).run()


if __name__ == "__main__":
    main()

"""The embedded platform: KMS + verifier service, gateway, dispatcher, registry, workers.

`veil up` runs `serve_trust` in a child process and the gateway in the
foreground; everything lives under one data directory and survives
restarts:

    <data-dir>/kms.sqlite3, kms-master.key, kms-admin.token   the KMS
    <data-dir>/verifier.key, sim-host.key                       verifier, sim TEE
    <data-dir>/registry.sqlite3                                 bundles and records
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import uvicorn
from fastapi import FastAPI

from veil.attestation.service import AttestationService, ReferenceValues
from veil.attestation.sim import SimVerifier
from veil.host.dispatcher import Dispatcher, PoolConfig
from veil.host.gateway.app import GatewayConfig, gateway_app
from veil.host.registry import Registry
from veil.kms.broker import KeyBroker
from veil.kms.remote import RemoteTrust
from veil.kms.server import trust_app
from veil.kms.store import KmsStore, load_or_create_master_key
from veil.trusted.attest.sim import TEE, load_or_create_host_key, measurement

DEFAULT_DATA_DIR = Path(os.environ.get("VEIL_DATA_DIR", Path.home() / ".local/share/veil"))
DEFAULT_GATEWAY_PORT = 7070
DEFAULT_TRUST_PORT = 7071


def _secret_file(path: Path, make: bytes) -> bytes:
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(make)
    return make


def admin_token(data_dir: Path) -> str:
    return _secret_file(data_dir / "kms-admin.token", secrets.token_hex(32).encode()).decode()


def build_trust(data_dir: Path, production: bool = False) -> tuple[KeyBroker, AttestationService]:
    from veil.trusted.crypto.signing import SigningKey

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
    return KeyBroker(store, [verifier_key.public], production=production), verifier


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


def serve_trust(data_dir: Path, host: str, port: int) -> None:
    kms, verifier = build_trust(data_dir)
    uvicorn.Server(server_config(trust_app(kms, verifier, admin_token(data_dir)), host, port)).run()


def build_gateway(
    data_dir: Path,
    trust_url: str,
    pool: PoolConfig | None = None,
    config: GatewayConfig | None = None,
) -> tuple[FastAPI, Dispatcher]:
    trust = RemoteTrust(trust_url)
    dispatcher = Dispatcher(
        Registry(data_dir / "registry.sqlite3"), trust, data_dir / "sim-host.key", pool
    )
    return gateway_app(dispatcher, trust, config), dispatcher


def wait_healthy(
    url: str, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"service for {url} exited with status {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not become healthy in {timeout:.0f} s")


@dataclass
class Endpoints:
    gateway_url: str
    trust_url: str


def start_trust_process(
    data_dir: Path, host: str, port: int, stderr: int | IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    argv = ["trust", "--data-dir", str(data_dir), "--host", host, "--port", str(port)]
    return subprocess.Popen(
        [sys.executable, "-m", "veil.host.embedded", *argv], stdin=subprocess.DEVNULL, stderr=stderr
    )


def start_gateway_process(
    data_dir: Path,
    host: str,
    port: int,
    trust_url: str,
    options: list[str] | None = None,
    stderr: int | IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:
    """`options` are further gateway flags (--stem-cells, --max-workers, ... see `main`)."""
    argv = [
        "gateway",
        "--data-dir",
        str(data_dir),
        "--host",
        host,
        "--port",
        str(port),
        "--trust-url",
        trust_url,
        *(options or []),
    ]
    return subprocess.Popen(
        [sys.executable, "-m", "veil.host.embedded", *argv], stdin=subprocess.DEVNULL, stderr=stderr
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m veil.host.embedded")
    parser.add_argument("service", choices=["trust", "gateway"])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int)
    parser.add_argument("--trust-url")
    parser.add_argument("--stem-cells", type=int, default=1)
    parser.add_argument("--max-workers", type=int, default=PoolConfig().max_workers)
    parser.add_argument("--max-queue", type=int, default=PoolConfig().max_queue)
    parser.add_argument("--idle-timeout", type=float, default=PoolConfig().idle_timeout_s)
    parser.add_argument("--enclave-concurrency", type=int, default=PoolConfig().enclave_concurrency)
    parser.add_argument(
        "--function-concurrency", type=int, default=GatewayConfig().function_concurrency
    )
    args = parser.parse_args(argv)
    if args.service == "trust":
        serve_trust(args.data_dir, args.host, args.port or DEFAULT_TRUST_PORT)
        return
    pool = PoolConfig(
        stem_cells=args.stem_cells,
        max_workers=args.max_workers,
        max_queue=args.max_queue,
        idle_timeout_s=args.idle_timeout,
        enclave_concurrency=args.enclave_concurrency,
    )
    gateway_config = GatewayConfig(function_concurrency=args.function_concurrency)
    app, _ = build_gateway(args.data_dir, args.trust_url, pool, gateway_config)
    uvicorn.Server(server_config(app, args.host, args.port or DEFAULT_GATEWAY_PORT)).run()


if __name__ == "__main__":
    main()

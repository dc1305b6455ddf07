"""The embedded platform for one gateway bench run, and the sealed envelopes it is fed.

`Platform` starts the KMS + verifier process, (re)starts the gateway with a
given pool, starts the bare baseline app, and stops every process it
started when the run ends, however it ends.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from veil.client.invoke import SealedRequest, seal
from veil.client.sdk import Client
from veil.client.trust import TrustAnchors
from veil.host.embedded import admin_token, start_trust_process, wait_healthy
from veil.kms.policy import Policy
from veil.kms.remote import RemoteTrust
from veil.samples import wasm
from veil.trusted.bundle import Bundle, Manifest
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.wire.records import FunctionRecord

HOST = "127.0.0.1"
TENANT = "bench"
ENVELOPE_LIFETIME_S = 240.0
"""Envelopes are sealed ahead with this deadline (the enclave accepts up to 5 min)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Platform:
    """The embedded platform for one bench run; every process it starts is stopped on exit."""

    data_dir: Path
    tenant_key: SigningKey = field(default_factory=SigningKey.generate)
    trust_port: int = field(default_factory=free_port)
    gateway_port: int = 0
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    gateway: subprocess.Popen[bytes] | None = None

    @property
    def trust_url(self) -> str:
        return f"http://{HOST}:{self.trust_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://{HOST}:{self.gateway_port}"

    def start_trust(self) -> None:
        proc = start_trust_process(self.data_dir, HOST, self.trust_port)
        self.procs.append(proc)
        wait_healthy(self.trust_url, process=proc)
        with RemoteTrust(self.trust_url) as remote:
            remote.register_tenant(TENANT, self.tenant_key.public, admin_token(self.data_dir))

    def start_gateway(self, stem_cells: int, max_workers: int) -> None:
        """(Re)start the gateway; healthy means its stem cells are attested and ready."""
        self.stop_gateway()
        self.gateway_port = free_port()
        self.gateway = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "veil.host.embedded",
                "gateway",
                "--data-dir",
                str(self.data_dir),
                "--host",
                HOST,
                "--port",
                str(self.gateway_port),
                "--trust-url",
                self.trust_url,
                "--stem-cells",
                str(stem_cells),
                "--max-workers",
                str(max_workers),
                "--function-concurrency",
                "1024",
            ],
            stdin=subprocess.DEVNULL,
        )
        self.procs.append(self.gateway)
        wait_healthy(self.gateway_url, timeout=60, process=self.gateway)

    def stop_gateway(self) -> None:
        stop_process(self.gateway)
        self.gateway = None

    def start_baseline(self, port: int) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "veil.bench.baseline_app", "--host", HOST, "--port", str(port)],
            stdin=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        wait_healthy(f"http://{HOST}:{port}", process=proc)
        return proc

    def trust(self) -> TrustAnchors:
        with RemoteTrust(self.trust_url) as remote:
            return TrustAnchors(remote.public_key, tuple(remote.verifier_keys()), allow_sim=True)

    def client(self) -> Client:
        return Client(self.gateway_url, self.trust())

    def deploy(self, client: Client, name: str) -> FunctionRecord:
        return client.deploy(
            Bundle(Manifest(name, "1"), wasm("echo")),
            tenant=TENANT,
            key=self.tenant_key,
            policy=Policy.development(),
        )

    def close(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc)


@contextlib.contextmanager
def running_platform(data_dir: Path) -> Iterator[Platform]:
    platform = Platform(data_dir)
    try:
        yield platform
    finally:
        platform.close()


class EnvelopePool:
    """Sealed, unused envelopes for one function, in order; sent ones are dropped."""

    def __init__(self, record: FunctionRecord, data: bytes) -> None:
        self.record, self.data = record, data
        self.sealed: list[SealedRequest] = []
        self.sealed_at = time.monotonic()

    def take(self, n: int) -> list[SealedRequest]:
        if time.monotonic() - self.sealed_at > ENVELOPE_LIFETIME_S / 2:
            self.sealed = []  # stale: their deadlines come too close
        if not self.sealed:
            self.sealed_at = time.monotonic()
        while len(self.sealed) < n:
            self.sealed.append(seal(self.record, self.data, timeout_s=ENVELOPE_LIFETIME_S))
        return self.sealed[:n]

    def consume(self, n: int) -> None:
        del self.sealed[:n]

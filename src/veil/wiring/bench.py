"""The embedded platform for one gateway bench run, and the sealed envelopes it is fed.

`BenchPlatform` is `veil.wiring.embedded.EmbeddedPlatform` (KMS + verifier
process, gateway process with its workers) with a gateway restarted per
pool size and the bare baseline app beside it; every process it started
is stopped when the run ends, however it ends.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from veil.client.invoke import SealedRequest, seal
from veil.client.sdk import Client
from veil.samples import wasm
from veil.trusted.bundle import Bundle, Manifest
from veil.trusted.wire.records import FunctionRecord
from veil.wiring.embedded import HOST, EmbeddedPlatform
from veil.wiring.processes import stop_process, wait_healthy

TENANT = "bench"
ENVELOPE_LIFETIME_S = 240.0
"""Envelopes are sealed ahead with this deadline (the enclave accepts up to 5 min)."""


@dataclass
class BenchPlatform(EmbeddedPlatform):
    """`EmbeddedPlatform` with a gateway restartable per pool size, and the baseline app."""

    tenant: str = TENANT
    capture_logs: bool = False
    others: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_trust_and_tenant(self) -> None:
        self.start_trust()
        self.register_tenant()

    def start_pool(self, stem_cells: int, max_workers: int) -> None:
        """(Re)start the gateway; healthy means its stem cells are attested and ready."""
        self.stop_gateway()
        self.stem_cells, self.max_workers = stem_cells, max_workers
        self.gateway_args = ["--function-concurrency", "1024"]
        self.start_gateway()

    def start_baseline(self, port: int) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "veil.bench.baseline_app", "--host", HOST, "--port", str(port)],
            stdin=subprocess.DEVNULL,
        )
        self.others.append(proc)
        wait_healthy(f"http://{HOST}:{port}", process=proc)
        return proc

    def deploy_echo(self, client: Client, name: str) -> FunctionRecord:
        return self.deploy_bundle(client, Bundle(Manifest(name, "1"), wasm("echo")))

    def close(self) -> None:
        for proc in self.others:
            stop_process(proc)
        self.stop()


@contextlib.contextmanager
def running_platform(workdir: Path) -> Iterator[BenchPlatform]:
    """A platform with its data under `workdir`; every process it started is stopped on exit."""
    with (workdir / "trust.log").open("wb") as trust_log:  # the KMS's sim-policy warnings
        platform = BenchPlatform(workdir / "data", trust_log=trust_log)
        try:
            yield platform
        finally:
            platform.close()


def enclave_keys(client: Client) -> list[bytes]:
    """Key ids of every attested enclave of the gateway: what bench envelopes are sealed to."""
    return [bytes.fromhex(e["key_id"]) for e in client.enclaves() if e["state"] != "dead"]


class EnvelopePool:
    """Sealed, unused envelopes for one function, in order; sent ones are dropped.

    Each is sealed to one of `enclaves` in turn (every worker of the pool
    under test, so each serves its share; one not yet warm loads the function
    on its first request). `target` names the enclaves of a restarted pool.
    """

    def __init__(self, record: FunctionRecord, data: bytes, enclaves: list[bytes]) -> None:
        self.record, self.data = record, data
        self.sealed: list[SealedRequest] = []
        self.sealed_at = time.monotonic()
        self.enclaves: list[bytes] = []
        self.target(enclaves)

    def target(self, enclaves: list[bytes]) -> None:
        """Seal to `enclaves` from now on; envelopes sealed to others are dropped."""
        self.enclaves = list(enclaves)
        self.sealed = [s for s in self.sealed if s.meta.enclave in self.enclaves]

    def take(self, n: int) -> list[SealedRequest]:
        if time.monotonic() - self.sealed_at > ENVELOPE_LIFETIME_S / 2:
            self.sealed = []  # stale: their deadlines come too close
        if not self.sealed:
            self.sealed_at = time.monotonic()
        while len(self.sealed) < n:
            enclave = self.enclaves[len(self.sealed) % len(self.enclaves)]
            self.sealed.append(
                seal(self.record, self.data, enclave=enclave, timeout_s=ENVELOPE_LIFETIME_S)
            )
        return self.sealed[:n]

    def consume(self, n: int) -> None:
        del self.sealed[:n]

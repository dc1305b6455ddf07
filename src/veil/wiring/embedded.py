"""The embedded platform as child processes, for `veil demo`, benchmarks and tests.

A KMS+verifier process and a gateway process (which starts the enclave
workers) on free loopback ports, a tenant registered with the KMS, and a
client pinned to the KMS and verifier keys. Every request between them goes
over real HTTP and IPC, as under `veil up`; `stop()` ends every process.
Contrast with `veil.wiring.direct.DirectPlatform`: the same services as
objects in one process.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from veil.attestation.policy import Policy
from veil.client.sdk import Client
from veil.client.trust import TrustAnchors
from veil.kms.remote import RemoteTrust
from veil.trusted.bundle import Bundle
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.wire.records import FunctionRecord
from veil.wiring.processes import free_port, start_service, stop_process, wait_healthy
from veil.wiring.services import admin_token

HOST = "127.0.0.1"


@dataclass
class EmbeddedPlatform:
    """Owns the KMS+verifier and gateway child processes it starts, and the tenant's key."""

    data_dir: Path
    stem_cells: int = 1
    max_workers: int = 2
    gateway_args: list[str] = field(default_factory=list)
    trust_args: list[str] = field(default_factory=list)
    """Further flags of the KMS+verifier process (`--record-validity`, `--grant-ttl` ...)."""
    capture_logs: bool = True
    """Keep the gateway's stderr (its log) to return from `stop_gateway`."""
    trust_log: IO[bytes] | None = None
    """Where the KMS process logs (its sim-policy warnings); None: inherit stderr."""
    trust_port: int = field(default_factory=free_port)
    gateway_port: int = field(default_factory=free_port)
    tenant: str = "acme"
    tenant_key: SigningKey = field(default_factory=SigningKey.generate)
    trust_proc: subprocess.Popen[bytes] | None = None
    gateway_proc: subprocess.Popen[bytes] | None = None

    @property
    def trust_url(self) -> str:
        return f"http://{HOST}:{self.trust_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://{HOST}:{self.gateway_port}"

    def start_trust(self) -> None:
        self.trust_proc = start_service(
            "trust", self.data_dir, HOST, self.trust_port, self.trust_args, stderr=self.trust_log
        )
        wait_healthy(self.trust_url, process=self.trust_proc)

    def register_tenant(self) -> None:
        """Register this platform's tenant key with its KMS (with the KMS admin token)."""
        with RemoteTrust(self.trust_url) as remote:
            remote.register_tenant(self.tenant, self.tenant_key.public, admin_token(self.data_dir))

    def start_gateway(self) -> None:
        options = [
            *("--trust-url", self.trust_url),
            *("--stem-cells", str(self.stem_cells)),
            *("--max-workers", str(self.max_workers)),
            *self.gateway_args,
        ]
        self.gateway_proc = start_service(
            "gateway",
            self.data_dir,
            HOST,
            self.gateway_port,
            options,
            stderr=subprocess.PIPE if self.capture_logs else None,
        )
        wait_healthy(self.gateway_url, process=self.gateway_proc)

    def start(self) -> EmbeddedPlatform:
        self.start_trust()
        self.register_tenant()
        self.start_gateway()
        return self

    def stop_gateway(self) -> bytes:
        """Stop the gateway (and so its workers); return its log if `capture_logs`."""
        proc, self.gateway_proc = self.gateway_proc, None
        stop_process(proc)
        if proc is None or proc.stderr is None:
            return b""
        with proc.stderr:
            return proc.stderr.read()

    def stop_trust(self) -> None:
        stop_process(self.trust_proc)
        self.trust_proc = None

    def stop(self) -> None:
        self.stop_gateway()
        self.stop_trust()

    def __enter__(self) -> EmbeddedPlatform:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def trust(self) -> TrustAnchors:
        """The keys a client pins, fetched from the KMS (sim allowed: this is development)."""
        with RemoteTrust(self.trust_url) as remote:
            return TrustAnchors(remote.public_key, tuple(remote.verifier_keys()), allow_sim=True)

    def client(self) -> Client:
        return Client(self.gateway_url, self.trust())

    def deploy_bundle(self, client: Client, bundle: Bundle) -> FunctionRecord:
        """Deploy as this platform's tenant, with a development (sim-accepting) policy."""
        return client.deploy(
            bundle, tenant=self.tenant, key=self.tenant_key, policy=Policy.development()
        )

    deploy = deploy_bundle

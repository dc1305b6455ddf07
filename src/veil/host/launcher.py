"""Launch the embedded platform as child processes, for `veil demo`, benchmarks and tests.

A KMS+verifier process and a gateway process (which starts the enclave
workers) on free loopback ports, a tenant registered with the KMS, and a
client pinned to the KMS and verifier keys. `stop()` ends every process.
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from veil.client.sdk import Client
from veil.client.trust import TrustAnchors
from veil.host.embedded import (
    admin_token,
    start_gateway_process,
    start_trust_process,
    wait_healthy,
)
from veil.kms.policy import Policy
from veil.kms.remote import RemoteTrust
from veil.trusted.bundle import Bundle
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.wire.records import FunctionRecord


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class EmbeddedPlatform:
    data_dir: Path
    stem_cells: int = 1
    max_workers: int = 2
    gateway_args: list[str] = field(default_factory=list)
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
        return f"http://127.0.0.1:{self.trust_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def start_trust(self) -> None:
        self.trust_proc = start_trust_process(
            self.data_dir, "127.0.0.1", self.trust_port, stderr=self.trust_log
        )
        wait_healthy(self.trust_url, process=self.trust_proc)

    def start_gateway(self) -> None:
        options = ["--stem-cells", str(self.stem_cells), "--max-workers", str(self.max_workers)]
        self.gateway_proc = start_gateway_process(
            self.data_dir,
            "127.0.0.1",
            self.gateway_port,
            self.trust_url,
            [*options, *self.gateway_args],
            stderr=subprocess.PIPE if self.capture_logs else None,
        )
        wait_healthy(self.gateway_url, process=self.gateway_proc)

    def start(self) -> EmbeddedPlatform:
        self.start_trust()
        with RemoteTrust(self.trust_url) as remote:
            remote.register_tenant(self.tenant, self.tenant_key.public, admin_token(self.data_dir))
        self.start_gateway()
        return self

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes] | None) -> None:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_gateway(self) -> bytes:
        proc, self.gateway_proc = self.gateway_proc, None
        self._stop(proc)
        if proc is None or proc.stderr is None:
            return b""
        with proc.stderr:
            return proc.stderr.read()

    def stop_trust(self) -> None:
        self._stop(self.trust_proc)
        self.trust_proc = None

    def stop(self) -> None:
        self.stop_gateway()
        self.stop_trust()

    def __enter__(self) -> EmbeddedPlatform:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def trust(self) -> TrustAnchors:
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

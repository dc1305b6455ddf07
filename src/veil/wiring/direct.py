"""The platform as objects in this one process, on the sim TEE: no IPC, no HTTP.

Used by the core and runtimes benchmarks and the tests: a verifier,
a KMS with its SQLite store, a tenant, and enclaves started the way a worker
starts them (fresh keys, sim evidence, attestation, key release). Contrast
with `veil.wiring.embedded.EmbeddedPlatform`: the same services as child
processes talking HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from veil.attestation.policy import Policy
from veil.attestation.service import AttestationService, ReferenceValues
from veil.attestation.sim import SimVerifier
from veil.client.trust import TrustAnchors
from veil.kms.broker import KeyBroker
from veil.kms.store import KmsStore, load_or_create_master_key
from veil.trusted.attest.sim import TEE, SimAttester, load_or_create_host_key, measurement
from veil.trusted.bundle import Bundle, SignedBundle
from veil.trusted.crypto import hazmat
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.enclave import Enclave
from veil.trusted.sandbox.engine import SandboxEngine
from veil.trusted.wire.records import FunctionRecord, Registration


@dataclass
class Deployed:
    """A function as a worker would hold it: the signed bundle and its KMS-signed record."""

    signed_bundle: bytes
    record: FunctionRecord
    record_bytes: bytes


class DirectPlatform:
    """Owns one verifier, one KMS (its store under `data_dir`), a tenant and a sandbox engine.

    Enclaves it starts are plain `Enclave` objects provisioned by direct calls.
    """

    def __init__(self, data_dir: Path, tenant: str = "acme") -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.sim_key = load_or_create_host_key(data_dir / "sim-host.key")
        self.attester = SimAttester(self.sim_key)
        self.verifier = AttestationService(
            SigningKey.generate(),
            {TEE: SimVerifier([self.sim_key.public])},
            ReferenceValues({TEE: {measurement().hex()}}),
        )
        master = load_or_create_master_key(data_dir / "kms-master.key")
        self.kms = KeyBroker(KmsStore(data_dir / "kms.sqlite3", master), [self.verifier.key.public])
        self.tenant = tenant
        self.tenant_key = SigningKey.generate()
        self.kms.register_tenant(tenant, self.tenant_key.public)
        self.engine = SandboxEngine()
        self.trust = TrustAnchors(self.kms.public_key, (self.verifier.key.public,), allow_sim=True)

    def deploy(
        self,
        bundle: Bundle,
        policy: Policy | None = None,
        suite: hazmat.Suite | None = None,
        secrets: dict[str, bytes] | None = None,
    ) -> Deployed:
        signed = SignedBundle.sign(bundle, self.tenant_key).to_bytes()
        registration = Registration(
            self.tenant,
            bundle.manifest.name,
            bundle.digest,
            policy or Policy.development((measurement().hex(),)),
            suite or hazmat.Suite(bundle.manifest.suite),
            secrets or {},
        ).sign(self.tenant_key)
        record_bytes = self.kms.register_function(registration)
        return Deployed(
            signed, FunctionRecord.verify(record_bytes, self.kms.public_key), record_bytes
        )

    def start_enclave(self, engine: SandboxEngine | None = None) -> Enclave:
        """Fresh enclave keys, sim evidence bound to a verifier nonce, attestation result."""
        enclave = Enclave(self.kms.public_key, engine=engine or self.engine)
        nonce = self.verifier.challenge()
        evidence = self.attester.evidence(enclave.report_data(nonce))
        token = self.verifier.attest(TEE, evidence, enclave.binding.to_bytes(), nonce)
        enclave.set_attestation(token)
        return enclave

    def provision(self, enclave: Enclave, deployed: Deployed) -> None:
        """Key release and bundle load: what a cold start does after attestation."""
        request = enclave.key_request(deployed.record.name, deployed.record.digest)
        enclave.install(deployed.signed_bundle, self.kms.release(request))

"""The platform as objects in this one process, on the sim TEE: no IPC, no HTTP.

Used by the core and runtimes benchmarks and the tests: a verifier,
a KMS with its SQLite store, a tenant, and enclaves started the one way a
worker is started: the enclave's own ops (`EnclaveService`), driven by the
host's relay (`host.provision`) for attestation and key release. Contrast
with `veil.wiring.embedded.EmbeddedPlatform`: the same services as child
processes talking HTTP.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veil.attestation.policy import Policy
from veil.attestation.service import AttestationService, ReferenceValues
from veil.attestation.sim import SimVerifier, load_or_create_host_key
from veil.client.trust import TrustAnchors
from veil.host.provision import Call, anchor_clock, attest_enclave, load_function
from veil.kms.broker import KeyBroker
from veil.kms.store import KmsStore, load_or_create_master_key
from veil.registration import Registration
from veil.trusted.attest.sim import TEE, SimAttester, measurement
from veil.trusted.bundle import Bundle, SealedBundle, SignedBundle
from veil.trusted.clock import os_monotonic_ms
from veil.trusted.crypto import hazmat
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.enclave import Enclave
from veil.trusted.sandbox.engine import SandboxEngine
from veil.trusted.service import EnclaveService
from veil.trusted.wire.records import FunctionRecord


@dataclass
class Deployed:
    """A function as the host holds it: the sealed bundle and its KMS-signed record.

    `code_key` is the tenant's (tests use it to seal bundles of their own).
    """

    sealed_bundle: bytes
    record: FunctionRecord
    record_bytes: bytes
    code_key: bytes


class LocalTrust:
    """The host's view of the KMS and verifier (`TrustServices`), as objects in this process."""

    def __init__(self, kms: KeyBroker, verifier: AttestationService) -> None:
        self.kms, self.verifier = kms, verifier
        self.public_key = kms.public_key
        self.register_function, self.function_record = kms.register_function, kms.function_record
        self.release, self.time_anchor = kms.release, kms.time_anchor
        self.versions, self.remove_function = kms.versions, kms.remove_function
        self.challenge, self.attest = verifier.challenge, verifier.attest


async def _inline(function: Callable[..., Any], *args: Any) -> Any:
    """Run a trust call on the spot: the KMS and verifier are objects in this process."""
    return function(*args)


def _calls(service: EnclaveService) -> Call:
    """`async (op, arg) -> bytes` to an enclave in this process, as a channel would carry it."""

    async def call(op: str, arg: Any) -> bytes:
        return service.handle(op, arg)

    return call


class DirectPlatform:
    """Owns one verifier, one KMS (its store under `data_dir`), a tenant and a sandbox engine.

    Enclaves it starts are plain `Enclave` objects provisioned by direct calls,
    reading the host's monotonic clock (or one a test passes in).
    """

    def __init__(
        self, data_dir: Path, tenant: str = "acme", kms_clock: Callable[[], float] = time.time
    ) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.sim_key = load_or_create_host_key(data_dir / "sim-host.key")
        self.attester = SimAttester(self.sim_key)
        self.verifier = AttestationService(
            SigningKey.generate(),
            {TEE: SimVerifier([self.sim_key.public])},
            ReferenceValues({TEE: {measurement().hex()}}),
        )
        master = load_or_create_master_key(data_dir / "kms-master.key")
        self.kms = KeyBroker(
            KmsStore(data_dir / "kms.sqlite3", master), [self.verifier.key.public], clock=kms_clock
        )
        self.tenant = tenant
        self.tenant_key = SigningKey.generate()
        self.kms.register_tenant(tenant, self.tenant_key.public)
        self.engine = SandboxEngine()
        self.trust = TrustAnchors(
            self.kms.public_key,
            (self.verifier.key.public,),
            allow_sim=True,
            kms_seal_key=self.kms.seal_key,
        )

    def deploy(
        self,
        bundle: Bundle,
        policy: Policy | None = None,
        suite: hazmat.Suite | None = None,
        secrets: dict[str, bytes] | None = None,
        log_key: bytes = b"",
    ) -> Deployed:
        """Register `bundle` with the KMS and seal it, as `veil deploy` does (no gateway)."""
        registration = Registration(
            self.tenant,
            bundle.manifest.name,
            bundle.digest,
            policy or Policy.development((measurement().hex(),)),
            suite or hazmat.Suite(bundle.manifest.suite),
            secrets or {},
            log_key=log_key,
        )
        code_key = registration.code_key
        sealed = SealedBundle.seal(SignedBundle.sign(bundle, self.tenant_key), code_key)
        record_bytes = self.kms.register_function(
            registration.sign(self.tenant_key, self.kms.seal_key)
        )
        record = FunctionRecord.verify(record_bytes, self.kms.public_key)
        return Deployed(sealed.to_bytes(), record, record_bytes, code_key)

    @property
    def services(self) -> LocalTrust:
        """What the host relays through: this platform's KMS and verifier as they are now."""
        return LocalTrust(self.kms, self.verifier)

    def start_service(
        self,
        engine: SandboxEngine | None = None,
        monotonic_ms: Callable[[], int] = os_monotonic_ms,
    ) -> EnclaveService:
        """An enclave with fresh keys, attested (and anchored) through the host's relay, as a
        worker is; `monotonic_ms` is the host clock it reads."""
        enclave = Enclave(
            self.kms.public_key, monotonic_ms=monotonic_ms, engine=engine or self.engine
        )
        service = EnclaveService(enclave, self.attester)
        asyncio.run(attest_enclave(_calls(service), self.services, _inline))
        return service

    def start_enclave(
        self,
        engine: SandboxEngine | None = None,
        monotonic_ms: Callable[[], int] = os_monotonic_ms,
    ) -> Enclave:
        return self.start_service(engine, monotonic_ms).enclave

    def anchor(self, enclave: Enclave) -> None:
        """A fresh KMS time anchor for `enclave`, relayed as the pool's refresh does it."""
        asyncio.run(
            anchor_clock(_calls(EnclaveService(enclave, self.attester)), self.services, _inline)
        )

    def provision(
        self, enclave: Enclave | EnclaveService, deployed: Deployed, name: str | None = None
    ) -> None:
        """Key release and bundle load through the host's relay: what a cold start does.
        `name` loads it under another name: `NAME@N`, the retained version N."""
        service = (
            enclave
            if isinstance(enclave, EnclaveService)
            else EnclaveService(enclave, self.attester)
        )
        record = deployed.record
        load = load_function(
            _calls(service),
            self.services,
            name or record.name,
            record.digest,
            deployed.sealed_bundle,
            _inline,
        )
        asyncio.run(load)

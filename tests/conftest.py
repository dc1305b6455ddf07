"""Shared fixtures: an in-process platform on the sim TEE, a KMS service, sample bundles."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmtime
from hypothesis import settings

from veil.attestation.policy import Policy
from veil.host.registry import Entry, Registry
from veil.kms.remote import RemoteTrust
from veil.registration import Registration
from veil.samples import wasm
from veil.trusted.bundle import Bundle, Limits, Manifest, SealedBundle, SignedBundle
from veil.trusted.crypto import hazmat
from veil.trusted.enclave import Enclave
from veil.trusted.wire.records import FunctionRecord
from veil.wiring.direct import Deployed, DirectPlatform
from veil.wiring.embedded import EmbeddedPlatform

# Speed lives in `veil bench`, never in unit tests: no per-example deadline, which on a
# loaded 2-core machine fails correct code at random.
settings.register_profile("veil", deadline=None)
settings.load_profile("veil")


@pytest.fixture(autouse=True)
def _quiet_sim_warnings() -> Iterator[None]:
    logging.getLogger("veil.kms").setLevel(logging.ERROR)
    yield


@pytest.fixture
def platform(tmp_path: Path) -> DirectPlatform:
    return DirectPlatform(tmp_path / "data")


def echo_bundle(name: str = "acme/echo", **manifest: object) -> Bundle:
    return Bundle(Manifest(name, "1", **manifest), wasm("echo"))  # type: ignore[arg-type]


def marked_bundle(name: str, marker: bytes) -> Bundle:
    """A reactor function whose code holds `marker` (a data segment) and which answers it:
    the marker appears in plaintext only where the code does."""
    wat = f"""(module
      (memory (export "memory") 1)
      (data (i32.const 0) "{marker.decode()}")
      (global $heap (mut i32) (i32.const 1024))
      (func $alloc (export "veil_alloc") (param $n i32) (result i32)
        (local $p i32)
        (local.set $p (global.get $heap))
        (global.set $heap (i32.add (local.get $p) (local.get $n)))
        (local.get $p))
      (func (export "veil_invoke") (param $p i32) (param $n i32) (result i64)
        (i64.const {len(marker)})))"""
    return Bundle(Manifest(name, "1"), wasmtime.wat2wasm(wat))


@pytest.fixture
def echo(platform: DirectPlatform) -> Deployed:
    return platform.deploy(echo_bundle())


@pytest.fixture
def enclave(platform: DirectPlatform, echo: Deployed) -> Enclave:
    enclave = platform.start_enclave()
    platform.provision(enclave, echo)
    return enclave


def small_limits(**overrides: int) -> Limits:
    values = {"memory_pages": 4, "fuel": 5_000_000, "timeout_ms": 500} | overrides
    return Limits(**values)


@pytest.fixture
def trust(tmp_path: Path) -> Iterator[EmbeddedPlatform]:
    """A running KMS + verifier service with the platform's tenant registered."""
    platform = EmbeddedPlatform(tmp_path / "data")
    platform.start_trust()
    platform.register_tenant()
    yield platform
    platform.stop()


def register_in(
    platform: EmbeddedPlatform, remote: RemoteTrust, registry: Registry, bundle: Bundle
) -> FunctionRecord:
    """Deploy `bundle` as the host would, without a gateway: KMS registration, then the
    sealed bundle into the registry."""
    registration = Registration(
        platform.tenant,
        bundle.manifest.name,
        bundle.digest,
        Policy.development(),
        hazmat.Suite(bundle.manifest.suite),
        {},
    )
    record_bytes = remote.register_function(registration.sign(platform.tenant_key, remote.seal_key))
    record = FunctionRecord.verify(record_bytes, remote.public_key)
    signed = SignedBundle.sign(bundle, platform.tenant_key)
    sealed = SealedBundle.seal(signed, registration.code_key).to_bytes()
    registry.put(Entry(record.name, record.digest, record_bytes, record.version), sealed)
    return record

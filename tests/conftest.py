"""Shared fixtures: an in-process platform on the sim TEE, and sample bundles."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from veil.samples import wasm
from veil.trusted.bundle import Bundle, Limits, Manifest
from veil.trusted.enclave import Enclave
from veil.wiring.direct import Deployed, DirectPlatform


@pytest.fixture(autouse=True)
def _quiet_sim_warnings() -> Iterator[None]:
    logging.getLogger("veil.kms").setLevel(logging.ERROR)
    yield


@pytest.fixture
def platform(tmp_path: Path) -> DirectPlatform:
    return DirectPlatform(tmp_path / "data")


def echo_bundle(name: str = "acme/echo", **manifest: object) -> Bundle:
    return Bundle(Manifest(name, "1", **manifest), wasm("echo"))  # type: ignore[arg-type]


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

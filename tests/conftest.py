"""Shared fixtures: an in-process platform on the sim TEE, and sample bundles."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from veil.host.inprocess import Deployed, InProcessPlatform
from veil.samples import wasm
from veil.trusted.bundle import Bundle, Limits, Manifest
from veil.trusted.enclave import Enclave


@pytest.fixture(autouse=True)
def _quiet_sim_warnings() -> Iterator[None]:
    logging.getLogger("veil.kms").setLevel(logging.ERROR)
    yield


@pytest.fixture
def platform(tmp_path: Path) -> InProcessPlatform:
    return InProcessPlatform(tmp_path / "data")


def echo_bundle(name: str = "acme/echo", **manifest: object) -> Bundle:
    return Bundle(Manifest(name, "1", **manifest), wasm("echo"))  # type: ignore[arg-type]


@pytest.fixture
def echo(platform: InProcessPlatform) -> Deployed:
    return platform.deploy(echo_bundle())


@pytest.fixture
def enclave(platform: InProcessPlatform, echo: Deployed) -> Enclave:
    enclave = platform.start_enclave()
    platform.provision(enclave, echo)
    return enclave


def small_limits(**overrides: int) -> Limits:
    values = {"memory_pages": 4, "fuel": 5_000_000, "timeout_ms": 500} | overrides
    return Limits(**values)

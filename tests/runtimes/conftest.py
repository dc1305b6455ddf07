"""Bundles built once per session (builds are slow), and one engine to run them.

Every Python build costs seconds and every first load of a component
compiles it, so the examples and probe functions are built once, written
under pytest's session temp dir (handy when a test fails), and loaded into
one shared `SandboxEngine`, whose compile cache makes later loads cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from veil.client.build import build
from veil.trusted.bundle import Bundle
from veil.trusted.sandbox.api import Sandbox
from veil.trusted.sandbox.engine import SandboxEngine
from veil.trusted.sandbox.loader import load_sandbox

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {
    "python-hello": ROOT / "examples" / "python-hello",
    "python-vendored": ROOT / "examples" / "python-vendored",
    "js-hello": ROOT / "examples" / "js-hello",
    "python-probe": Path(__file__).parent / "functions" / "python-probe",
    "js-probe": Path(__file__).parent / "functions" / "js-probe",
}


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Bundle]:
    """`bundles(name)` builds the named function on first use and caches the bundle."""
    cache_dir = tmp_path_factory.mktemp("bundles")
    built: dict[str, Bundle] = {}

    def get(name: str) -> Bundle:
        if name not in built:
            bundle = build(SOURCES[name])
            (cache_dir / f"{name}.bundle").write_bytes(bundle.to_bytes())
            built[name] = bundle
        return built[name]

    return get


@pytest.fixture(scope="session")
def engine() -> Iterator[SandboxEngine]:
    engine = SandboxEngine()
    yield engine
    engine.close()


@pytest.fixture
def load(
    bundles: Callable[[str], Bundle], engine: SandboxEngine
) -> Iterator[Callable[[str], Sandbox]]:
    """`load(name)` is a fresh sandbox of the named function, closed after the test."""
    opened: list[Sandbox] = []

    def get(name: str) -> Sandbox:
        sandbox = load_sandbox(engine, bundles(name))
        opened.append(sandbox)
        return sandbox

    yield get
    for sandbox in opened:
        sandbox.close()

"""The registry never goes back: a version at or below the one it holds is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from veil.host.registry import Entry, Registry, StaleDeploy


def entry(version: int, digest: bytes) -> Entry:
    return Entry("acme/echo", digest, b"record v%d" % version, version)


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry.sqlite3")


def test_a_newer_version_replaces_the_current_one(registry: Registry) -> None:
    registry.put(entry(1, b"a" * 32), b"bundle a")
    registry.put(entry(2, b"b" * 32), b"bundle b")
    assert registry.get("acme/echo") == entry(2, b"b" * 32)


@pytest.mark.parametrize("version", [1, 2])
def test_a_version_at_or_below_the_current_one_is_refused(registry: Registry, version: int) -> None:
    registry.put(entry(2, b"b" * 32), b"bundle b")
    with pytest.raises(StaleDeploy):
        registry.put(entry(version, b"a" * 32), b"bundle a")
    assert registry.get("acme/echo") == entry(2, b"b" * 32)
    assert registry.bundle(b"a" * 32) is None  # nothing of the refused deploy was kept


def test_the_registry_keeps_working_after_a_refusal(registry: Registry) -> None:
    registry.put(entry(2, b"b" * 32), b"bundle b")
    with pytest.raises(StaleDeploy):
        registry.put(entry(1, b"a" * 32), b"bundle a")
    registry.put(entry(3, b"c" * 32), b"bundle c")
    assert registry.get("acme/echo") == entry(3, b"c" * 32)

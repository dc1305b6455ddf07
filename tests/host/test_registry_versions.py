"""The registry keeps each retained version's sealed bundle by version, and forgets removals.

By version, not by digest: a rollback republishes an old digest sealed under
a new code key, and the pinned old version must still load its own bundle.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from veil.host.registry import Entry, Registry


def entry(version: int, digest: bytes, name: str = "acme/echo") -> Entry:
    return Entry(name, digest, b"record v%d" % version, version)


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry.sqlite3", retain=2)


def test_a_retained_version_is_found_under_its_pinned_name(registry: Registry) -> None:
    registry.put(entry(1, b"a" * 32), b"bundle a")
    registry.put(entry(2, b"b" * 32), b"bundle b")
    assert registry.get("acme/echo@1") == Entry("acme/echo@1", b"a" * 32, b"", 1)
    assert registry.function_bundle("acme/echo@1", b"a" * 32) == b"bundle a"


def test_the_plain_name_is_still_the_current_version(registry: Registry) -> None:
    registry.put(entry(1, b"a" * 32), b"bundle a")
    registry.put(entry(2, b"b" * 32), b"bundle b")
    assert registry.function_bundle("acme/echo", b"b" * 32) == b"bundle b"


def test_versions_beyond_the_retention_are_pruned(registry: Registry) -> None:
    for n, digest in enumerate((b"a" * 32, b"b" * 32, b"c" * 32), start=1):
        registry.put(entry(n, digest), b"bundle %d" % n)
    assert registry.get("acme/echo@1") is None
    assert registry.function_bundle("acme/echo@1", b"a" * 32) is None
    assert registry.get("acme/echo@2") is not None


def test_a_rollback_to_an_old_digest_leaves_the_old_versions_bundle_alone(
    registry: Registry,
) -> None:
    registry.put(entry(1, b"a" * 32), b"bundle a, code key 1")
    registry.put(entry(2, b"a" * 32), b"bundle a, code key 2")
    assert registry.function_bundle("acme/echo@1", b"a" * 32) == b"bundle a, code key 1"
    assert registry.function_bundle("acme/echo@2", b"a" * 32) == b"bundle a, code key 2"


@pytest.mark.parametrize("name", ["acme/echo@9", "acme/echo@x", "acme/other@1"])
def test_an_unknown_pinned_name_is_not_found(registry: Registry, name: str) -> None:
    registry.put(entry(1, b"a" * 32), b"bundle a")
    assert registry.get(name) is None


def test_a_pinned_bundle_asked_for_under_another_digest_is_not_given(registry: Registry) -> None:
    registry.put(entry(1, b"a" * 32), b"bundle a")
    assert registry.function_bundle("acme/echo@1", b"b" * 32) is None


def test_a_removed_function_leaves_no_entry_version_or_bundle(registry: Registry) -> None:
    registry.put(entry(1, b"a" * 32), b"bundle a")
    registry.put(entry(2, b"b" * 32), b"bundle b")
    registry.put(entry(1, b"c" * 32, name="acme/other"), b"bundle c")
    assert registry.remove("acme/echo")
    assert registry.get("acme/echo") is None and registry.get("acme/echo@1") is None
    assert registry.bundle(b"a" * 32) is None and registry.bundle(b"b" * 32) is None
    assert registry.bundle(b"c" * 32) == b"bundle c"  # another function's stays


def test_removing_an_unknown_function_says_so(registry: Registry) -> None:
    assert not registry.remove("acme/echo")

"""Rewind covers every kind of instance state (the rows of tests/adversary/residue.py),
in the sandbox alone: request 2 sees exactly what a fresh instance sees, or the module
is refused at load."""

from __future__ import annotations

import pytest

from tests.adversary.residue import KINDS, StateKind
from tests.conftest import small_limits
from veil.trusted.bundle import Bundle, Manifest
from veil.trusted.sandbox.engine import SandboxEngine
from veil.trusted.sandbox.quickjs import engine_wasm
from veil.trusted.sandbox.reactor import ReactorSandbox
from veil.trusted.sandbox.wasm_binary import state_layout


def reactor(code: bytes) -> ReactorSandbox:
    return ReactorSandbox(
        SandboxEngine(), Bundle(Manifest("t/fn", "1", limits=small_limits()), code)
    )


@pytest.mark.parametrize("kind", [k for k in KINDS if k.refused is None], ids=lambda k: k.name)
def test_every_request_after_a_disturbing_one_sees_a_fresh_instance(kind: StateKind) -> None:
    fresh = reactor(kind.wasm())
    expected = fresh.invoke(b"r").data
    sandbox = reactor(kind.wasm())
    for _ in range(3):
        sandbox.invoke(b"d")
        assert sandbox.invoke(b"r").data == expected
        assert sandbox.snapshot_hash == fresh.snapshot_hash


@pytest.mark.parametrize("kind", [k for k in KINDS if k.refused is not None], ids=lambda k: k.name)
def test_state_the_rewind_cannot_restore_is_refused_at_load(kind: StateKind) -> None:
    assert kind.refused is not None
    with pytest.raises(kind.refused):
        reactor(kind.wasm())


def test_a_table_holding_null_entries_rewinds() -> None:
    grows = next(k for k in KINDS if "table.grow" in k.name)
    sandbox = reactor(grows.wasm())
    assert [sandbox.invoke(b"r").data for _ in range(3)] == [b"\x01"] * 3


def test_the_pinned_quickjs_engine_has_no_passive_segments() -> None:
    """Its fresh instances get the snapshot installed, which cannot re-drop a segment."""
    assert not state_layout(engine_wasm()).passive_segments

"""Trusted time: the enclave's clock against a host that owns the OS clock and relays anchors.

The monotonic source is the host's (`LocalClock`, stepped by each test); the
anchors come from a KMS signing key, as `KeyBroker.time_anchor` signs them.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.trusted.clock import (
    CONTEXT,
    DRIFT_MS,
    VALIDITY_MS,
    ClockDrift,
    ClockNotAnchored,
    StaleAnchor,
    TrustedClock,
)
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.errors import BadSignature, MalformedMessage, Refused
from veil.trusted.wire import signed

KMS = SigningKey.generate()
T0 = 1_700_000_000_000
"""The KMS's time at the first anchor, in ms."""


class LocalClock:
    """The host's monotonic clock as the enclave reads it: the host steps it at will."""

    def __init__(self) -> None:
        self.ms = 5_000

    def __call__(self) -> int:
        return self.ms


def kms_time(nonce: bytes, time_ms: int, key: SigningKey = KMS) -> bytes:
    return signed.sign_document(key, CONTEXT, {"nonce": nonce, "time_ms": time_ms})


def anchored(time_ms: int = T0) -> tuple[TrustedClock, LocalClock]:
    local = LocalClock()
    clock = TrustedClock(KMS.public, local)
    clock.anchor(kms_time(clock.request(), time_ms))
    return clock, local


def reanchor(
    clock: TrustedClock, time_ms: int, relay_ms: int = 0, local: LocalClock | None = None
) -> None:
    """A fresh anchor saying `time_ms`, the nonce held `relay_ms` on its way."""
    nonce = clock.request()
    if local is not None:
        local.ms += relay_ms
    clock.anchor(kms_time(nonce, time_ms))


def test_a_clock_without_an_anchor_refuses_to_tell_the_time() -> None:
    clock = TrustedClock(KMS.public, LocalClock())
    with pytest.raises(ClockNotAnchored):
        clock.now_ms()
    clock.request()  # a nonce alone anchors nothing
    with pytest.raises(ClockNotAnchored):
        clock.now_ms()


def test_time_is_the_kms_time_plus_local_time_since_the_nonce_left() -> None:
    clock, local = anchored()
    assert clock.now_ms() == T0
    local.ms += 1_234
    assert clock.now_ms() == T0 + 1_234


def test_the_relay_time_counts_so_a_slow_relay_makes_the_clock_early_not_late() -> None:
    local = LocalClock()
    clock = TrustedClock(KMS.public, local)
    nonce = clock.request()
    local.ms += 3_000  # the host sat on the nonce, or the KMS was slow: the KMS read T0 at some
    clock.anchor(kms_time(nonce, T0))  # point in those 3 s, so now is at most T0 + 3 s
    assert clock.now_ms() == T0 + 3_000


def test_an_anchor_older_than_its_validity_in_local_time_refuses() -> None:
    clock, local = anchored()
    local.ms += VALIDITY_MS
    assert clock.now_ms() == T0 + VALIDITY_MS
    local.ms += 1
    with pytest.raises(ClockNotAnchored):
        clock.now_ms()
    reanchor(clock, T0 + VALIDITY_MS + 1)
    assert clock.now_ms() == T0 + VALIDITY_MS + 1


def test_validity_counts_from_when_the_nonce_left_so_a_held_nonce_shortens_it() -> None:
    clock, local = anchored()
    reanchor(clock, T0 + VALIDITY_MS, relay_ms=VALIDITY_MS, local=local)
    local.ms += 1
    with pytest.raises(ClockNotAnchored):
        clock.now_ms()


def test_a_backwards_os_clock_never_turns_trusted_time_back() -> None:
    clock, local = anchored()
    local.ms += 10_000
    assert clock.now_ms() == T0 + 10_000
    local.ms -= 8_000
    assert clock.now_ms() == T0 + 10_000  # held at the high-water mark
    local.ms += 9_000
    assert clock.now_ms() == T0 + 11_000


def test_a_backwards_os_clock_right_after_an_anchor_holds_time_at_the_anchor() -> None:
    clock, local = anchored()
    local.ms -= 3_600_000
    assert clock.now_ms() == T0


def test_an_anchor_behind_the_clock_does_not_turn_it_back_either() -> None:
    clock, local = anchored()
    local.ms += 5_000
    assert clock.now_ms() == T0 + 5_000
    reanchor(clock, T0 + 4_500)  # within the drift allowance, but behind what was read
    assert clock.now_ms() == T0 + 5_000


def test_a_forward_jump_past_the_validity_refuses_until_the_next_anchor() -> None:
    clock, local = anchored()
    local.ms += 10 * VALIDITY_MS
    with pytest.raises(ClockNotAnchored):
        clock.now_ms()


def test_a_forward_jump_within_the_validity_runs_ahead_and_the_next_anchor_flags_it() -> None:
    clock, local = anchored()
    local.ms += 30_000  # the host made 30 s pass while the KMS saw 1 s
    assert clock.now_ms() == T0 + 30_000
    reanchor(clock, T0 + 1_000)
    with pytest.raises(ClockDrift):
        clock.now_ms()
    assert clock.read_ms() == T0 + 30_000  # and it stays ahead: never back


def test_a_slow_os_clock_is_flagged_by_the_next_anchor_until_one_agrees() -> None:
    clock, local = anchored()
    local.ms += 10_000  # the host let 10 s of local time pass while 20 s passed at the KMS
    reanchor(clock, T0 + 20_000)
    with pytest.raises(ClockDrift):
        clock.now_ms()
    local.ms += 20_000
    reanchor(clock, T0 + 40_000)  # an honest interval: the clock is trusted again
    assert clock.now_ms() == T0 + 40_000


def test_drift_within_one_second_plus_one_percent_is_tolerated() -> None:
    clock, local = anchored()
    local.ms += 50_000
    slack = DRIFT_MS + 50_000 // 100
    reanchor(clock, T0 + 50_000 + slack)
    assert clock.now_ms() == T0 + 50_000 + slack
    local.ms += 50_000
    reanchor(clock, T0 + 100_000 + slack + slack + 1)
    with pytest.raises(ClockDrift):
        clock.now_ms()


def test_a_slow_relay_is_not_drift() -> None:
    clock, local = anchored()
    local.ms += 20_000
    nonce = clock.request()
    local.ms += 5_000  # 5 s of relay: the KMS read its clock somewhere in them
    clock.anchor(kms_time(nonce, T0 + 22_000))
    assert clock.now_ms() == T0 + 27_000


def test_an_old_anchor_replayed_for_a_new_nonce_is_stale_and_changes_nothing() -> None:
    local = LocalClock()
    clock = TrustedClock(KMS.public, local)
    old = kms_time(clock.request(), T0)
    clock.anchor(old)
    with pytest.raises(StaleAnchor):  # good once, even while its nonce is the latest
        clock.anchor(old)
    local.ms += 50_000
    clock.request()
    with pytest.raises(StaleAnchor):
        clock.anchor(old)
    assert clock.now_ms() == T0 + 50_000
    local.ms += 10_001
    with pytest.raises(ClockNotAnchored):  # the replay renewed nothing
        clock.now_ms()


def test_an_anchor_with_no_nonce_outstanding_is_stale() -> None:
    clock = TrustedClock(KMS.public, LocalClock())
    with pytest.raises(StaleAnchor):
        clock.anchor(kms_time(b"n" * 16, T0))


def test_a_new_nonce_replaces_the_outstanding_one() -> None:
    clock = TrustedClock(KMS.public, LocalClock())
    first = clock.request()
    clock.request()
    with pytest.raises(StaleAnchor):
        clock.anchor(kms_time(first, T0))


def test_an_anchor_signed_by_another_kms_or_for_another_purpose_is_refused() -> None:
    clock = TrustedClock(KMS.public, LocalClock())
    nonce = clock.request()
    with pytest.raises(BadSignature):
        clock.anchor(kms_time(nonce, T0, key=SigningKey.generate()))
    receipt_context = signed.sign_document(KMS, b"veil/receipt/v1", {"nonce": nonce, "time_ms": T0})
    with pytest.raises(BadSignature):
        clock.anchor(receipt_context)
    clock.anchor(kms_time(nonce, T0))  # the outstanding nonce survived the forgeries
    assert clock.now_ms() == T0


@pytest.mark.parametrize(
    "body",
    [
        {"nonce": b"n" * 16},
        {"nonce": b"n" * 16, "time_ms": "soon"},
        {"nonce": b"n" * 16, "time_ms": True},
        {"nonce": b"n" * 16, "time_ms": T0, "extra": 1},
    ],
)
def test_a_signed_anchor_of_the_wrong_shape_is_malformed(body: dict[str, object]) -> None:
    clock = TrustedClock(KMS.public, LocalClock())
    clock.request()
    with pytest.raises(MalformedMessage):
        clock.anchor(signed.sign_document(KMS, CONTEXT, body))


@given(data=st.binary(max_size=300))
def test_garbage_anchors_raise_only_refusals(data: bytes) -> None:
    clock = TrustedClock(KMS.public, LocalClock())
    clock.request()
    with pytest.raises(Refused):
        clock.anchor(data)


moves = st.lists(
    st.tuples(st.booleans(), st.integers(-100_000, 100_000), st.integers(0, 5_000)), max_size=40
)
"""Each move: the host steps its clock by `delta`, or relays an anchor saying T0 + `delta`
after holding the nonce for `relay` ms."""


@given(moves=moves)
def test_whatever_the_host_does_with_its_clock_and_anchors_time_never_runs_backwards(
    moves: list[tuple[bool, int, int]],
) -> None:
    clock, local = anchored()
    last = clock.now_ms()
    for is_anchor, delta, relay in moves:
        if is_anchor:
            reanchor(clock, T0 + delta, relay_ms=relay, local=local)
        else:
            local.ms += delta
        now = clock.read_ms()
        assert now >= last
        last = now

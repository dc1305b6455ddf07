"""The verifier's nonce store: single use, expiring, capped, O(1) per challenge."""

from __future__ import annotations

import os
import time

import pytest

from veil.attestation.errors import NonceInvalid
from veil.attestation.nonces import NonceStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_issued_nonce_is_consumed_once() -> None:
    store = NonceStore()
    store.issue(b"n" * 32)
    store.consume(b"n" * 32)
    with pytest.raises(NonceInvalid):
        store.consume(b"n" * 32)


def test_a_nonce_never_issued_is_refused() -> None:
    with pytest.raises(NonceInvalid):
        NonceStore().consume(os.urandom(32))


def test_an_expired_nonce_is_refused() -> None:
    clock = Clock()
    store = NonceStore(ttl_s=10, clock=clock)
    store.issue(b"a" * 32)
    clock.now += 10
    with pytest.raises(NonceInvalid):
        store.consume(b"a" * 32)


def test_expired_nonces_leave_the_store_on_the_next_challenge() -> None:
    clock = Clock()
    store = NonceStore(ttl_s=10, clock=clock)
    for _ in range(100):
        store.issue(os.urandom(32))
    clock.now += 11
    store.issue(os.urandom(32))
    assert len(store) == 1


def test_the_store_stays_capped_under_100k_challenges() -> None:
    store = NonceStore(capacity=1000)
    started = time.perf_counter()
    for _ in range(100_000):
        store.issue(os.urandom(32))
    assert len(store) == 1000
    assert time.perf_counter() - started < 10  # O(1) each; the old table rebuild took minutes


def test_past_capacity_the_oldest_nonce_is_evicted_and_refused() -> None:
    store = NonceStore(capacity=2)
    store.issue(b"1" * 32)
    store.issue(b"2" * 32)
    store.issue(b"3" * 32)
    with pytest.raises(NonceInvalid):
        store.consume(b"1" * 32)
    store.consume(b"2" * 32)
    store.consume(b"3" * 32)


def test_a_clock_stepped_back_does_not_revive_a_used_nonce() -> None:
    clock = Clock()
    store = NonceStore(ttl_s=10, clock=clock)
    store.issue(b"x" * 32)
    store.consume(b"x" * 32)
    clock.now -= 100
    with pytest.raises(NonceInvalid):
        store.consume(b"x" * 32)


def test_a_store_without_room_is_a_caller_error() -> None:
    with pytest.raises(ValueError):
        NonceStore(capacity=0)

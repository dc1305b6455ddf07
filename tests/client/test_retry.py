"""Backoff from a busy gateway: which answers are retried, how long, and never past the deadline."""

from __future__ import annotations

import random
import time

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.client.errors import GatewayError, check
from veil.client.retry import CAP_S, Backoff


def busy(status: int = 429, after: float | None = None) -> GatewayError:
    return GatewayError(status, "Overloaded", "function concurrency limit reached", after)


def test_429_and_503_are_retried_and_other_errors_are_not() -> None:
    backoff = Backoff(time.monotonic() + 30)
    assert backoff.delay(busy(429)) is not None
    assert backoff.delay(busy(503)) is not None
    for status in (400, 403, 404, 413, 500, 504):
        assert backoff.delay(busy(status)) is None


def test_retry_after_is_honoured_as_the_least_wait() -> None:
    assert Backoff(time.monotonic() + 30).delay(busy(after=2.0)) == pytest.approx(2.0, abs=0.01)


def test_no_retry_is_offered_that_would_end_past_the_deadline() -> None:
    assert Backoff(time.monotonic() + 0.5).delay(busy(after=1.0)) is None


@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=40))
def test_jittered_waits_stay_between_zero_and_the_cap(seed: int, attempts: int) -> None:
    backoff = Backoff(time.monotonic() + 3600, random.Random(seed))
    for _ in range(attempts):
        wait = backoff.delay(busy())
        assert wait is not None and 0 <= wait <= CAP_S


def test_jitter_spreads_clients_refused_together() -> None:
    waits = {Backoff(time.monotonic() + 30).delay(busy()) for _ in range(20)}
    assert len(waits) > 10


def _answer(status: int, retry_after: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={"error": "Overloaded", "detail": "busy"},
        headers={"retry-after": retry_after},
        request=httpx.Request("POST", "http://gateway/v1/invoke/acme/echo"),
    )


def test_the_gateway_s_retry_after_header_reaches_the_error() -> None:
    with pytest.raises(GatewayError) as caught:
        check(_answer(429, "3"))
    assert (caught.value.status, caught.value.retry_after_s) == (429, 3.0)


def test_a_retry_after_date_or_garbage_is_ignored_not_fatal() -> None:
    for value in ("Wed, 21 Oct 2015 07:28:00 GMT", "soon", ""):
        with pytest.raises(GatewayError) as caught:
            check(_answer(503, value))
        assert caught.value.retry_after_s is None

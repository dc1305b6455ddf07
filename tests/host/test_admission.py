"""Gateway admission on its own: the hard limit, the expected-wait limit, the counts."""

from __future__ import annotations

from veil.host.gateway.admission import ALWAYS_ADMIT, Admission, retry_headers
from veil.host.transport import DeadlineExceeded, KmsUnavailable, Overloaded, UnknownEnclave


def test_requests_below_the_limit_are_let_in_and_the_next_refused() -> None:
    admission = Admission(function_concurrency=3)
    for _ in range(3):
        assert admission.refusal("acme/f") is None
        admission.enter("acme/f")
    refused = admission.refusal("acme/f")
    assert refused is not None and refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert admission.refusal("acme/g") is None  # another function has its own count


def test_a_request_leaving_makes_room_for_the_next() -> None:
    admission = Admission(function_concurrency=1)
    admission.enter("acme/f")
    assert admission.refusal("acme/f") is not None
    admission.leave("acme/f")
    assert admission.refusal("acme/f") is None


def test_below_always_admit_a_slow_recent_rate_refuses_nothing() -> None:
    admission = Admission(function_concurrency=10_000, max_wait_s=0.001)
    for _ in range(ALWAYS_ADMIT - 1):
        admission.enter("acme/f")
    assert admission.refusal("acme/f") is None


def test_past_always_admit_a_queue_longer_than_can_be_served_in_time_is_refused() -> None:
    admission = Admission(function_concurrency=10_000, max_wait_s=0.001)
    for _ in range(ALWAYS_ADMIT):
        admission.enter("acme/f")
    refused = admission.refusal("acme/f")
    assert refused is not None and refused.status_code == 429
    assert admission.refused == 1


def test_retry_after_is_whole_seconds_and_absent_for_what_will_not_pass() -> None:
    assert retry_headers(Overloaded()) == {"retry-after": "1"}
    assert retry_headers(KmsUnavailable()) == {"retry-after": "2"}
    assert retry_headers(DeadlineExceeded()) == {}
    assert retry_headers(UnknownEnclave()) == {"retry-after": "0"}  # at once, elsewhere

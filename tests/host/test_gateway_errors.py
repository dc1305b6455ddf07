"""The gateway's HTTP status for a refusal comes from its kind, never from its name."""

from __future__ import annotations

from veil.host.gateway.errors import status_for
from veil.host.transport import DeadlineExceeded, FunctionNotDeployed, Overloaded, WorkerDied
from veil.trusted.enclave import UnknownFunction
from veil.trusted.errors import BadSignature, MessageTooLarge, NotFound, Refused, VeilError


class UnknownLookingRefusal(Refused):
    """Named like a lookup; only a refusal."""


class RelayedNotFound(NotFound):
    """A not-found the gateway never heard of (as relayed from the KMS)."""


def test_malformed_messages_are_400() -> None:
    assert status_for(MessageTooLarge("x")) == 400


def test_unknown_names_are_404_by_class() -> None:
    assert status_for(RelayedNotFound("x")) == 404
    assert status_for(UnknownFunction("x")) == 404


def test_a_refusal_named_unknown_is_still_403() -> None:
    assert status_for(UnknownLookingRefusal("x")) == 403
    assert status_for(BadSignature("x")) == 403


def test_dispatch_errors_answer_their_own_status() -> None:
    assert [
        status_for(e("x")) for e in (Overloaded, DeadlineExceeded, WorkerDied, FunctionNotDeployed)
    ] == [429, 504, 503, 404]


def test_anything_else_is_500() -> None:
    assert status_for(VeilError("x")) == 500

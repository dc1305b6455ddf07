"""What the host reads from an enclave's reply: the outcome for its metrics, the log to store."""

from __future__ import annotations

import pytest

from veil.host.replies import read_reply
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.wire.envelope import Response
from veil.trusted.wire.receipt import Receipt

ENCLAVE = SigningKey.generate()
RID = b"r" * 16


def receipt(ok: bool = True) -> bytes:
    return Receipt(
        "acme/f", RID, b"q" * 32, b"p" * 32, b"d" * 32, b"s" * 32, b"e" * 32, ok, 1234
    ).sign(ENCLAVE)


@pytest.mark.parametrize("ok", [True, False])
def test_the_outcome_is_the_receipts(ok: bool) -> None:
    answer = read_reply(Response(RID, b"sealed", receipt(ok), "token").to_bytes())
    assert answer is not None and answer.ok is ok


def test_a_reply_without_a_log_has_no_entry() -> None:
    answer = read_reply(Response(RID, b"sealed", receipt(), "token").to_bytes())
    assert answer is not None and answer.log is None
    assert answer.log_entry("acme/f", 1) is None


def test_the_log_is_stored_bound_to_the_receipt_and_kept_from_the_caller() -> None:
    reply = Response(RID, b"sealed", receipt(), "token", log=b"sealed log").to_bytes()
    answer = read_reply(reply)
    assert answer is not None
    entry = answer.log_entry("acme/f", 3)
    assert entry is not None
    assert (entry.function, entry.version, entry.request_id) == ("acme/f", 3, RID)
    assert (entry.served_ms, entry.enclave, entry.sealed) == (1234, b"e" * 32, b"sealed log")
    plain = Response.from_bytes(answer.for_caller())
    assert plain == Response(RID, b"sealed", receipt(), "token")
    assert plain.log is None or plain.log == b""


@pytest.mark.parametrize(
    "reply",
    [
        b"",
        b"\xff\xff",
        Response(RID, b"sealed", b"not-a-receipt", "token", log=b"x").to_bytes(),
    ],
)
def test_a_reply_that_does_not_parse_counts_as_an_error_and_stores_nothing(reply: bytes) -> None:
    assert read_reply(reply) is None

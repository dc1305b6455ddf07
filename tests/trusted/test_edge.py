"""The edge translator: only the documented refusals cross, with fixed text; the rest is opaque."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.host.ipc import rebuild
from veil.trusted import edge
from veil.trusted.errors import FunctionError, InternalError, MalformedMessage, Refused
from veil.trusted.sandbox.errors import FunctionTrapped

PROTOCOL_DOC = Path(__file__).resolve().parents[2] / "docs" / "design" / "0002-protocol.md"
SECRET = "patient 4711 has condition X"


@pytest.mark.parametrize("name", sorted(edge.REFUSALS))
def test_each_listed_refusal_round_trips_to_the_same_class_with_its_fixed_message(
    name: str,
) -> None:
    cls = edge.REFUSALS[name]
    crossed = edge.to_host(cls(f"detail quoting {SECRET}"))
    assert crossed == (name, cls.public_message)
    rebuilt = rebuild(crossed[0])
    assert type(rebuilt) is cls and str(rebuilt) == cls.public_message


@pytest.mark.parametrize("name", sorted(edge.REFUSALS))
def test_each_listed_refusal_has_a_message_of_its_own_and_is_a_refusal(name: str) -> None:
    cls = edge.REFUSALS[name]
    assert issubclass(cls, Refused) and cls.__name__ == name
    assert "public_message" in vars(cls) and SECRET not in cls.public_message


@pytest.mark.parametrize(
    "exc",
    [
        KeyError(SECRET),
        ValueError(SECRET),
        RecursionError(),
        MemoryError(),
        FunctionTrapped(SECRET),
        FunctionError(SECRET),
        type("UnlistedRefusal", (Refused,), {})(SECRET),
        type("MalformedMessage", (Exception,), {})(SECRET),  # the name alone is not enough
        type("SubclassOfListed", (MalformedMessage,), {})(SECRET),
    ],
    ids=repr,
)
def test_anything_not_listed_becomes_one_opaque_internal_error(exc: BaseException) -> None:
    assert edge.to_host(exc) == ("InternalError", "internal error")


def test_an_unknown_name_from_an_enclave_rebuilds_as_internal_error() -> None:
    for name in ("RemoteError", "KeyError", "", "__class__", "VeilError"):
        rebuilt = rebuild(name)
        assert type(rebuilt) is InternalError and str(rebuilt) == "internal error"


@given(message=st.text(min_size=8))
def test_no_exception_text_ever_crosses(message: str) -> None:
    for cls in (*edge.REFUSALS.values(), ValueError, RuntimeError):
        name, detail = edge.to_host(cls(message))
        fixed = (cls.__name__, getattr(cls, "public_message", ""), "internal error")
        assert message not in (name, detail) or message in fixed


def test_the_protocol_note_documents_exactly_the_list() -> None:
    table = re.findall(r"^\| `(\w+)` \| \"([^\"]+)\" \|", PROTOCOL_DOC.read_text(), re.M)
    listed = {name: cls.public_message for name, cls in edge.REFUSALS.items()}
    assert dict(table) == {**listed, "InternalError": "internal error"}

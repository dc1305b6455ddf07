"""Opening function logs on the tenant's machine: what opens, what is refused, what is dropped.

Entries are sealed as the enclave seals them (`recipes.seal_log` under
`log_info`), then served as the host serves them (`LogEntry.to_json`); each
adversarial row is something a host can do to what it serves.
"""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from typing import Any

import pytest

from veil.client.logs import LogEntryRefused, LogReader, create_log_key, load_log_key
from veil.host.logstore import LogEntry
from veil.trusted.crypto import hazmat, recipes
from veil.trusted.wire.envelope import log_info

KEY = hazmat.HpkePrivateKey.generate(recipes.LOG_SUITE)
ENCLAVE = b"\x07" * 32


def sealed_entry(
    text: bytes, *, fn: str = "acme/f", rid: int = 1, served: int = 1000, seq: int = 1
) -> dict[str, Any]:
    request_id = rid.to_bytes(16, "big")
    info = log_info(fn, 2, request_id, served, ENCLAVE)
    sealed = recipes.seal_log(KEY.public_bytes, text, info)
    return LogEntry(fn, 2, request_id, served, ENCLAVE, sealed, seq).to_json()


def test_an_entry_opens_with_the_tenant_key_and_keeps_its_bound_metadata() -> None:
    line = LogReader(KEY, "acme/f").open(sealed_entry(b"hello\n"))
    assert (line.text, line.version, line.served_ms, line.enclave) == (b"hello\n", 2, 1000, ENCLAVE)


def test_an_entry_does_not_open_with_another_key() -> None:
    other = hazmat.HpkePrivateKey.generate(recipes.LOG_SUITE)
    with pytest.raises(LogEntryRefused, match="does not open"):
        LogReader(other, "acme/f").open(sealed_entry(b"hello"))


def test_a_tampered_ciphertext_is_refused() -> None:
    entry = sealed_entry(b"hello")
    sealed = bytearray(base64.b64decode(entry["sealed"]))
    sealed[-1] ^= 1
    entry["sealed"] = base64.b64encode(sealed).decode()
    with pytest.raises(LogEntryRefused, match="does not open"):
        LogReader(KEY, "acme/f").open(entry)


@pytest.mark.parametrize(
    ("field", "value"),
    [("version", 3), ("served_ms", 999), ("request_id", "00" * 16), ("enclave", "08" * 32)],
)
def test_changed_metadata_makes_the_entry_refused(field: str, value: object) -> None:
    entry = {**sealed_entry(b"hello"), field: value}
    with pytest.raises(LogEntryRefused, match="does not open"):
        LogReader(KEY, "acme/f").open(entry)


def test_another_functions_entry_is_refused_by_its_bound_name() -> None:
    with pytest.raises(LogEntryRefused, match="another function"):
        LogReader(KEY, "acme/f").open(sealed_entry(b"of g", fn="acme/g"))


def test_another_functions_entry_renamed_to_this_one_does_not_open() -> None:
    entry = {**sealed_entry(b"of g", fn="acme/g"), "function": "acme/f"}
    with pytest.raises(LogEntryRefused, match="does not open"):
        LogReader(KEY, "acme/f").open(entry)


def test_an_entry_that_does_not_parse_is_refused() -> None:
    with pytest.raises(LogEntryRefused, match="does not parse"):
        LogReader(KEY, "acme/f").open({"seq": 1, "sealed": "not base64!"})


def test_replays_and_duplicates_are_shown_once_in_served_order() -> None:
    late, early = sealed_entry(b"late", rid=1, served=2000), sealed_entry(b"early", rid=2, served=1)
    reader = LogReader(KEY, "acme/f")
    lines, refused = reader.read([late, early, late])
    assert [line.text for line in lines] == [b"early", b"late"]
    assert refused == []
    assert reader.read([{**early, "seq": 9}]) == ([], [])  # replayed later, under a new number


def test_refused_entries_are_reported_beside_those_that_open() -> None:
    reader = LogReader(KEY, "acme/f")
    lines, refused = reader.read(
        [sealed_entry(b"x", fn="acme/g", seq=1), sealed_entry(b"y", seq=2)]
    )
    assert [line.text for line in lines] == [b"y"]
    assert len(refused) == 1
    assert reader.last_seq == 2


def test_the_log_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "tenant-logs.key"
    key = create_log_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_log_key(path).public_bytes == key.public_bytes
    with pytest.raises(FileExistsError):
        create_log_key(path)

"""The KMS's SQLite store: durable, sealed at rest, and refusing rows it did not seal."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import threading
from pathlib import Path

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veil.kms.store import FunctionRow, KmsStore, load_or_create_master_key
from veil.trusted.crypto import hazmat
from veil.trusted.errors import DecryptionFailed

SECRET = b"hunter2-a-tenant-secret-value"


def row(name: str = "acme/echo", **changes: object) -> FunctionRow:
    values: dict[str, object] = {
        "name": name,
        "tenant": "acme",
        "digest": hashlib.sha256(name.encode()).digest(),
        "policy": b"\xa1apb",
        "suite": "x25519",
        "private_key": os.urandom(32),
        "secrets": cbor2.dumps({"apikey": SECRET}),
        "record": b"signed record of " + name.encode(),
        "version": 1,
        "issued_us": 1_700_000_000_000_000,
    } | changes
    return FunctionRow(**values)  # type: ignore[arg-type]


@pytest.fixture
def master(tmp_path: Path) -> bytes:
    return load_or_create_master_key(tmp_path / "master.key")


@pytest.fixture
def store(tmp_path: Path, master: bytes) -> KmsStore:
    return KmsStore(tmp_path / "kms.db", master)


def reopen(tmp_path: Path, master: bytes) -> KmsStore:
    return KmsStore(tmp_path / "kms.db", master)


def raw_bytes(tmp_path: Path) -> bytes:
    """Every byte SQLite wrote: the database, its WAL and shared-memory files."""
    return b"".join(p.read_bytes() for p in sorted(tmp_path.glob("kms.db*")))


def test_everything_stored_survives_reopening_the_file(
    tmp_path: Path, master: bytes, store: KmsStore
) -> None:
    identity, fn = os.urandom(32), row()
    store.set_identity(identity)
    store.add_tenant("acme", b"k" * 32)
    store.put_function(fn)
    store.close()
    again = reopen(tmp_path, master)
    assert again.identity() == identity
    assert again.tenant_key("acme") == b"k" * 32
    assert again.function(fn.name) == fn
    assert again.function_names() == [fn.name]


def test_an_empty_store_has_no_identity_tenants_or_functions(store: KmsStore) -> None:
    assert store.identity() is None
    assert store.tenant_key("acme") is None
    assert store.function("acme/echo") is None
    assert store.function_names() == []


def test_the_identity_is_set_once(store: KmsStore) -> None:
    store.set_identity(os.urandom(32))
    with pytest.raises(sqlite3.IntegrityError):
        store.set_identity(os.urandom(32))


def test_a_redeployed_function_replaces_its_row(store: KmsStore) -> None:
    store.put_function(row(version=1))
    newer = row(version=2)
    store.put_function(newer)
    assert store.function("acme/echo") == newer
    assert store.function_names() == ["acme/echo"]


def test_the_raw_file_holds_no_private_key_or_secret_in_the_clear(
    tmp_path: Path, master: bytes, store: KmsStore
) -> None:
    identity, fn = os.urandom(32), row()
    store.set_identity(identity)
    store.put_function(fn)
    store.close()
    raw = raw_bytes(tmp_path)
    assert fn.record in raw  # the scan sees what is stored: the public record is
    for clear in (identity, fn.private_key, SECRET, master):
        assert clear not in raw
    db = sqlite3.connect(tmp_path / "kms.db")
    cells = [c for r in db.execute("SELECT * FROM functions") for c in r if isinstance(c, bytes)]
    cells += [r[0] for r in db.execute("SELECT sealed_key FROM kms_identity")]
    db.close()
    assert not any(clear in cell for cell in cells for clear in (identity, fn.private_key, SECRET))


def test_a_wrong_master_key_cannot_open_the_store(
    tmp_path: Path, master: bytes, store: KmsStore
) -> None:
    store.set_identity(os.urandom(32))
    store.put_function(row())
    store.close()
    thief = KmsStore(tmp_path / "kms.db", hazmat.new_aead_key())
    with pytest.raises(DecryptionFailed):
        thief.identity()
    with pytest.raises(DecryptionFailed):
        thief.function("acme/echo")


@pytest.mark.parametrize("column", ["sealed_private", "sealed_secrets"])
def test_a_tampered_sealed_column_is_refused(
    tmp_path: Path, master: bytes, store: KmsStore, column: str
) -> None:
    store.put_function(row())
    db = sqlite3.connect(tmp_path / "kms.db")
    (sealed,) = db.execute(f"SELECT {column} FROM functions").fetchone()
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    db.execute(f"UPDATE functions SET {column} = ?", (flipped,))
    db.commit()
    db.close()
    with pytest.raises(DecryptionFailed):
        store.function("acme/echo")


def test_a_truncated_sealed_identity_is_refused(tmp_path: Path, store: KmsStore) -> None:
    store.set_identity(os.urandom(32))
    db = sqlite3.connect(tmp_path / "kms.db")
    db.execute("UPDATE kms_identity SET sealed_key = substr(sealed_key, 1, 8)")
    db.commit()
    db.close()
    with pytest.raises(DecryptionFailed):
        store.identity()


def test_a_row_renamed_to_another_function_does_not_open(tmp_path: Path, store: KmsStore) -> None:
    store.put_function(row("acme/a"))
    db = sqlite3.connect(tmp_path / "kms.db")
    db.execute("UPDATE functions SET name = 'acme/b'")
    db.commit()
    db.close()
    with pytest.raises(DecryptionFailed):
        store.function("acme/b")


def test_the_master_key_file_is_private_and_reloads_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    key = load_or_create_master_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_master_key(path) == key
    assert len(key) == hazmat.AEAD_KEY_SIZE


def test_a_master_key_file_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_bytes(b"short")
    with pytest.raises(ValueError, match="not a KMS master key"):
        load_or_create_master_key(path)


def test_threads_registering_at_once_lose_no_function(store: KmsStore) -> None:
    names = [f"acme/fn-{t}-{i}" for t in range(8) for i in range(25)]
    expected = {name: row(name) for name in names}
    errors: list[BaseException] = []

    def register(mine: list[str]) -> None:
        try:
            for name in mine:
                store.put_function(expected[name])
                assert store.function(name) == expected[name]
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(names[t::8],)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.function_names() == sorted(names)
    assert all(store.function(name) == fn for name, fn in expected.items())


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.text(min_size=1, max_size=80),
    private_key=st.binary(max_size=200),
    secrets=st.binary(max_size=400),
    version=st.integers(0, 2**62),
)
def test_any_row_reads_back_as_written(
    store: KmsStore, name: str, private_key: bytes, secrets: bytes, version: int
) -> None:
    fn = row(name, private_key=private_key, secrets=secrets, version=version)
    store.put_function(fn)
    assert store.function(name) == fn

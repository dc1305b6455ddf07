"""The host's store of sealed function logs: history across restarts, bounded by count and age."""

from __future__ import annotations

from pathlib import Path

from veil.host.logstore import LogEntry, LogStore


def entry(function: str = "acme/f", n: int = 0) -> LogEntry:
    return LogEntry(function, 1, n.to_bytes(16, "big"), 1000 + n, b"e" * 32, b"sealed-%d" % n)


def test_history_survives_closing_and_reopening_the_file(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.sqlite3")
    store.append(entry(n=1))
    store.append(entry(n=2))
    store.close()
    reopened = LogStore(tmp_path / "logs.sqlite3")
    assert [e.sealed for e in reopened.after("acme/f")] == [b"sealed-1", b"sealed-2"]
    assert reopened.append(entry(n=3)) == 3  # numbering goes on, never reused


def test_reads_start_after_a_sequence_number_and_keep_functions_apart(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.sqlite3")
    first = store.append(entry("acme/a", 1))
    store.append(entry("acme/b", 2))
    store.append(entry("acme/a", 3))
    assert [e.request_id[-1] for e in store.after("acme/a")] == [1, 3]
    assert [e.request_id[-1] for e in store.after("acme/a", first)] == [3]
    assert store.after("acme/c") == []


def test_only_the_newest_entries_of_each_function_are_kept() -> None:
    store = LogStore(keep_per_function=3)
    for n in range(5):
        store.append(entry("acme/a", n))
    store.append(entry("acme/b", 9))
    assert [e.request_id[-1] for e in store.after("acme/a")] == [2, 3, 4]
    assert len(store.after("acme/b")) == 1  # another function's bound is its own


def test_entries_older_than_the_age_bound_are_dropped() -> None:
    now = [1000.0]
    store = LogStore(max_age_s=60, clock=lambda: now[0])
    store.append(entry(n=1))
    now[0] += 61
    store.append(entry(n=2))
    assert [e.request_id[-1] for e in store.after("acme/f")] == [2]


def test_a_page_is_bounded_and_the_next_one_starts_where_it_ended() -> None:
    store = LogStore()
    for n in range(7):
        store.append(entry(n=n))
    page = store.after("acme/f", 0, limit=4)
    assert len(page) == 4
    assert [e.request_id[-1] for e in store.after("acme/f", page[-1].seq)] == [4, 5, 6]

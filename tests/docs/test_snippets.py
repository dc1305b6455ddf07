"""Every ```sh, ```python and ```js block of README.md and docs/ runs, for real.

Blocks run in the order of their file, each file in a fresh scratch clone
against its own real platform (`veil up`), so a block may use what the
blocks above it made, as a reader following the page would
(`tests.docs.session` says exactly what the test changes: ports, and
`veil up` in the background). A failure names the file and line of the
block. A block that cannot run as it stands is fenced ```text.

Select by file, not by block (`-k functions.md`): a block alone misses
what the blocks above it made.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs.session import BLOCK_TIMEOUT_S, DocSession, starts_up
from tests.docs.snippets import Snippet, all_snippets, runnable, snippets

TAIL_LINES = 60


class Sessions:
    """One `DocSession` at a time: the previous file's platform stops before the next starts."""

    def __init__(self, scratch: pytest.TempPathFactory) -> None:
        self.scratch = scratch
        self.path: Path | None = None
        self.session: DocSession | None = None

    def for_doc(self, path: Path) -> DocSession:
        if self.path != path or self.session is None:
            self.close()
            own_up = any(starts_up(s) for s in snippets(path))
            self.path = path
            self.session = DocSession(self.scratch.mktemp(path.stem), own_up)
        return self.session

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
        self.session = None


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sessions]:
    running = Sessions(tmp_path_factory)
    yield running
    running.close()


def tail(text: str) -> str:
    return "\n".join(text.splitlines()[-TAIL_LINES:])


@pytest.mark.timeout(BLOCK_TIMEOUT_S + 60)
@pytest.mark.parametrize("snippet", runnable(), ids=lambda s: f"{s.where}-{s.lang}")
def test_the_snippet_runs(snippet: Snippet, sessions: Sessions) -> None:
    session = sessions.for_doc(snippet.path)
    ran = session.run(snippet)
    if ran.code != 0:
        up = session.up_log()
        pytest.fail(
            f"{snippet.where}: the ```{snippet.lang} block exited {ran.code}\n"
            f"--- the block ---\n{snippet.text}\n--- its output ---\n{tail(ran.output)}"
            + (f"\n--- veil up ---\n{tail(up)}" if up else ""),
            pytrace=False,
        )


def test_every_fence_names_its_language() -> None:
    """An unnamed fence would hide a command from the rule: ```text says "not code"."""
    unnamed = [s.where for s in all_snippets() if not s.lang]
    assert not unnamed, f"name these blocks' language (```text if not code): {unnamed}"

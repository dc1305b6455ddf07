"""The fenced code blocks of the README and docs/, with the file and line each starts on.

The rule the docs follow is simple: every ```sh, ```python and ```js block
runs (tests/docs/test_snippets.py runs them); a block that cannot run as it
stands (an output sample, a command on hardware or files this repository
does not have) is fenced ```text or ```console. Every fence names its
language, so no command hides in an unnamed block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
RUNNABLE: Final = frozenset({"sh", "python", "js"})
FENCE: Final = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class Snippet:
    """One fenced block: `line` is the line of its opening fence (1-based)."""

    path: Path
    line: int
    lang: str
    text: str

    @property
    def where(self) -> str:
        """`README.md:27`: what a failure names, relative to the repository."""
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def doc_files() -> list[Path]:
    """README.md, then every Markdown file under docs/, in a stable order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def snippets(path: Path) -> list[Snippet]:
    """Every fenced block of `path`, in order; an unclosed fence runs to the end (CommonMark)."""
    found: list[Snippet] = []
    opened: tuple[int, str, str] | None = None
    body: list[str] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = FENCE.match(line)
        if opened is None:
            if match and "`" not in match["info"]:
                opened, body = (number, match["fence"], match["info"].strip()), []
            continue
        start, fence, info = opened
        if match and match["fence"].startswith(fence) and not match["info"].strip():
            found.append(Snippet(path, start, info.split()[0] if info else "", "\n".join(body)))
            opened = None
        else:
            body.append(line)
    if opened is not None:
        start, _fence, info = opened
        found.append(Snippet(path, start, info.split()[0] if info else "", "\n".join(body)))
    return found


def all_snippets() -> list[Snippet]:
    return [s for path in doc_files() for s in snippets(path)]


def runnable() -> list[Snippet]:
    return [s for s in all_snippets() if s.lang in RUNNABLE]

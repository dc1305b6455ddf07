"""Everything the CLI prints goes through here: Veil's styling, never the user's text as markup.

Rich markup is for Veil's own words (`[red]error:[/]`). Messages, names,
paths, function output and server answers are somebody else's text and
often hold brackets (`[limits]`, `list[int]`, a JSON array): printed as
markup they would be eaten or restyled. So a template is Veil's markup
and every value put into it is escaped (`say`, `styled`), and `error` and
`warn` take plain text only. Lines are never wrapped (`soft_wrap`), so a
URL or a path stays one piece in a piped log.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.text import Text

out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, soft_wrap=True, highlight=False)

SLOW_S = 1.0
"""A step that took longer than this says when it is done, in plain (piped) output."""


def styled(template: str, *values: object) -> Text:
    """`template` (Veil's markup, `{}` placeholders) with each value escaped into it."""
    return Text.from_markup(template.format(*(escape(str(v)) for v in values)))


def say(template: str, *values: object, console: Console = out) -> None:
    """Print `template` with `values` escaped into it (stdout unless told otherwise)."""
    console.print(styled(template, *values))


def error(message: object, label: str = "error") -> None:
    """One red label, then `message` exactly as it is, on stderr."""
    err.print(Text.assemble((f"{label}:", "red"), " ", str(message)))


def warn(message: object) -> None:
    err.print(Text(f"⚠ {message}", style="yellow"))


def plain(text: str, console: Console = err, end: str = "\n") -> None:
    """`text` verbatim: no markup, no highlighting (function logs, server text)."""
    console.print(Text(text), end=end)


@contextmanager
def step(what: str) -> Iterator[None]:
    """Say what a slow step is doing: a spinner on a terminal, a plain line in a log.

    Piped output (CI, `veil up > log`) gets a line when the step starts and,
    if it took more than `SLOW_S`, one when it ends, so a log shows where
    the time went; a terminal gets a spinner that disappears when it is done.
    """
    if err.is_terminal:
        with err.status(Text(what)):
            yield
        return
    plain(what)
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    if elapsed > SLOW_S:
        plain(f"  done in {elapsed:.1f} s")

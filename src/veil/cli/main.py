"""Entry point of the `veil` command: one sub-command per module in `veil.cli`."""

from __future__ import annotations

import typer

from veil.cli.bench import bench
from veil.cli.demo import demo
from veil.cli.evidence import evidence_app

app = typer.Typer(
    name="veil",
    help="Confidential serverless functions in attested enclaves (the host is the adversary).",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(bench)
app.command()(demo)
app.add_typer(evidence_app, name="evidence")


def main() -> None:
    app()

"""`veil bench SUITE`: run a benchmark suite, print a table, optionally write JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from veil.bench.harness import SUITES, UnknownSuite, metrics_of, run_suite, write_json


def bench(
    suite: Annotated[str, typer.Argument(help=f"one of: {', '.join(SUITES)}")],
    json_file: Annotated[
        Path | None, typer.Option("--json", help="also write the report as JSON here")
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="fewer iterations, under 60 s")] = False,
) -> None:
    """Run a benchmark suite and report each metric against its target."""
    console = Console()
    try:
        with console.status(f"running bench suite {suite!r}{' (quick)' if quick else ''} ..."):
            report = run_suite(suite, quick)
    except UnknownSuite as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    table = Table(title=f"veil bench {suite}{' --quick' if quick else ''}")
    for column in ("metric", "value", "unit", "target", "met?"):
        table.add_column(column)
    for m in metrics_of(report):
        target = "" if m.target is None else f"{'≤' if m.better == 'lower' else '≥'} {m.target:g}"
        met = {None: "", True: "[green]yes[/]", False: "[red]no[/]"}[m.met]
        table.add_row(m.name, f"{m.value:,.3f}", m.unit, target, met)
    console.print(table)
    if json_file is not None:
        write_json(report, json_file)
        console.print(f"wrote {json_file}")

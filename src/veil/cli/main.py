"""Entry point of the `veil` command: one sub-command per module in `veil.cli`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from veil.cli import functions, platform, status, up, versions
from veil.cli.bench import bench
from veil.cli.completion import completion
from veil.cli.context import state
from veil.cli.demo import demo
from veil.cli.evidence import evidence_app
from veil.cli.secrets import secret_app

app = typer.Typer(
    name="veil",
    help="Confidential serverless functions in attested enclaves (the host is the adversary).",
    no_args_is_help=True,
)


@app.callback()
def _options(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            envvar="VEIL_DATA_DIR", help="where keys and state live [~/.local/share/veil]"
        ),
    ] = None,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", envvar="VEIL_DEBUG", help="on failure, show tracebacks and full tool output"
        ),
    ] = False,
) -> None:
    if data_dir is not None:
        state.data_dir = data_dir
    state.debug = debug


for command in (
    platform.init,
    functions.new,
    functions.build,
    functions.deploy,
    functions.invoke,
    functions.ls,
    versions.versions,
    versions.rollback,
    versions.rm,
    platform.enclaves,
    platform.logs,
    up.up,
    status.status,
    status.down,
    demo,
    bench,
    completion,
):
    app.command()(command)
app.add_typer(evidence_app, name="evidence")
app.add_typer(secret_app, name="secret")


def main() -> None:
    app()

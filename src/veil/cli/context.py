"""Shared CLI plumbing: the data directory option, errors with the fix, JSON output.

What the CLI prints goes through `veil.cli.output`, so no user or server
text is ever read as Rich markup.
"""

from __future__ import annotations

import json
import sys
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import typer

from veil.cli.history import BundleNotKept
from veil.cli.output import error, plain, warn
from veil.client.build import BuildError, BuildNotReproducible
from veil.client.config import ClientConfig, NotInitialised
from veil.client.errors import GatewayError, GatewayUnavailable
from veil.client.sdk import Client
from veil.kms.remote import RemoteTrust, ServiceUnavailable
from veil.trusted.errors import VeilError
from veil.wiring.services import default_data_dir

NO_SUCH = ("UnknownFunctionName", "VersionNotRetained", "FunctionNotDeployed")
"""Refusals that mean the function (or that version of it) does not exist."""


class State:
    data_dir: Path = default_data_dir()
    debug: bool = False
    """`veil --debug`: tracebacks and the full output of failing build tools."""


state = State()


@contextmanager
def human_errors() -> Iterator[None]:
    """Turn failures into one red line with the fix, and exit 1; `--debug` adds the traceback.

    A failure Veil does not know (a bug) gets one line too, naming its type
    and `--debug`, so a user never has to read Veil's internals to find
    their own mistake.
    """
    try:
        yield
    except (click.exceptions.Exit, typer.Exit, click.ClickException, click.exceptions.Abort):
        raise
    except (
        NotInitialised,
        BuildError,
        ServiceUnavailable,
        GatewayUnavailable,
        FileNotFoundError,
        BundleNotKept,
    ) as exc:
        _debug(exc)
        error(exc)
        raise typer.Exit(1) from None
    except GatewayError as exc:
        _debug(exc)
        if exc.kind in NO_SUCH:
            error(f"no such function: {exc.detail} (`veil ls` lists them)")
            raise typer.Exit(1) from None
        error(f"the gateway answered {exc.status} {exc.kind}: {exc.detail}")
        raise typer.Exit(1) from None
    except VeilError as exc:
        _debug(exc)
        error(f"{type(exc).__name__}: {exc}", label="refused")
        raise typer.Exit(1) from None
    except Exception as exc:
        _debug(exc)
        error(f"unexpected {type(exc).__name__}: {exc} (`veil --debug ...` shows the traceback)")
        raise typer.Exit(1) from None


def _debug(exc: BaseException) -> None:
    """Under `--debug`: the traceback, and a build tool's full output if there is one."""
    if not state.debug:
        return
    plain("".join(traceback.format_exception(exc)), end="")
    detail = getattr(exc, "detail", "")
    if detail:
        plain(f"--- full output ---\n{detail}")


@contextmanager
def build_warnings() -> Iterator[None]:
    """Show a build that will not reproduce as one yellow line, not a Python warning dump."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BuildNotReproducible)
        yield
    for warning in caught:
        if issubclass(warning.category, BuildNotReproducible):
            warn(warning.message)
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def load_config(*, pin: bool = True) -> ClientConfig:
    """The tenant config; pins the KMS and verifier keys on first contact (and says so).

    A config pinned before the KMS had a seal key gets it now, accepted only
    if the KMS key pinned earlier signed it.
    """
    config = ClientConfig.load(state.data_dir)
    if pin and not config.pinned:
        with RemoteTrust(config.kms) as remote:
            keys = remote.keys()
        config.kms_key, config.verifier_keys = keys["kms_key"], keys["verifier_keys"]
        config.kms_seal_key = keys["kms_seal_key"]
        config.trust()  # the seal key must be signed by the KMS key just pinned
        config.save(state.data_dir)
        plain(f"pinned KMS key {keys['kms_key'][:16]}… from {config.kms} (trust on first use)")
    elif pin and config.kms_seal_key is None:
        with RemoteTrust(config.kms) as remote:
            config.kms_seal_key = remote.keys()["kms_seal_key"]
        config.trust()
        config.save(state.data_dir)
        plain("pinned the KMS seal key (signed by the KMS key pinned before)")
    return config


def gateway_client(config: ClientConfig) -> Client:
    """A client for the configured gateway, trusting only the pinned KMS and verifier keys."""
    return Client(config.gateway, config.trust(), on_retry=lambda line: plain(line))


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def emit_json_line(value: Any) -> None:
    """One JSON object on one line (JSON Lines), flushed: for streams like `veil logs -f`."""
    sys.stdout.write(json.dumps(value, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()

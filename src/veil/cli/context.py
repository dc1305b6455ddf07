"""Shared CLI plumbing: the data directory option, consoles, errors with the fix."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from veil.cli.config import ClientConfig, NotInitialised
from veil.client.build import BuildError, BuildNotReproducible
from veil.client.errors import GatewayError, GatewayUnavailable
from veil.client.sdk import Client
from veil.kms.remote import RemoteTrust, ServiceUnavailable
from veil.trusted.errors import VeilError
from veil.wiring.services import default_data_dir

out = Console()
err = Console(stderr=True)


class State:
    data_dir: Path = default_data_dir()


state = State()


@contextmanager
def human_errors() -> Iterator[None]:
    """Turn known failures into one red line with the fix, and exit 1."""
    try:
        yield
    except (
        NotInitialised,
        BuildError,
        ServiceUnavailable,
        GatewayUnavailable,
        FileNotFoundError,
    ) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    except GatewayError as exc:
        err.print(f"[red]error:[/] the gateway answered {exc.status} {exc.kind}: {exc.detail}")
        raise typer.Exit(1) from None
    except VeilError as exc:
        err.print(f"[red]refused:[/] {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None


@contextmanager
def build_warnings() -> Iterator[None]:
    """Show a build that will not reproduce as one yellow line, not a Python warning dump."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", BuildNotReproducible)
        yield
    for warning in caught:
        if issubclass(warning.category, BuildNotReproducible):
            err.print(f"[yellow]⚠ {warning.message}[/]")
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
        err.print(f"pinned KMS key {keys['kms_key'][:16]}… from {config.kms} (trust on first use)")
    elif pin and config.kms_seal_key is None:
        with RemoteTrust(config.kms) as remote:
            config.kms_seal_key = remote.keys()["kms_seal_key"]
        config.trust()
        config.save(state.data_dir)
        err.print("pinned the KMS seal key (signed by the KMS key pinned before)")
    return config


def gateway_client(config: ClientConfig) -> Client:
    """A client for the configured gateway, trusting only the pinned KMS and verifier keys."""
    return Client(config.gateway, config.trust(), on_retry=lambda line: err.print(line))


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")

"""`veil secret set/ls/rm`: a function's secrets, straight to the KMS, never the gateway.

Every command is tenant-signed; a value is sealed to the pinned KMS seal key
(`veil.secret_request`). After a write the gateway is asked to renew the
function's grants at once, so the next request reads the new value; that
request is liveness only (a host can ignore it, and then grants expire).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from veil.cli.context import emit_json, gateway_client, human_errors, load_config, state
from veil.cli.output import error, out, plain, say, warn
from veil.client.config import ClientConfig
from veil.client.errors import GatewayError, GatewayUnavailable
from veil.kms.remote import RemoteTrust
from veil.secret_request import MAX_SECRET, SecretList, SecretWrite, check_name

secret_app = typer.Typer(help="Set, list and remove a function's secrets (sealed to the KMS).")
FunctionArg = Annotated[str, typer.Argument(help="function name, e.g. acme/hello or hello")]
NameArg = Annotated[str, typer.Argument(help="secret name: 1-64 of [a-z0-9_.-]")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


class NoSecretValue(ValueError):
    """`veil secret set` got an empty value, or a terminal to read it from without `--file`."""


def _full(config: ClientConfig, function: str) -> str:
    return function if "/" in function else f"{config.tenant}/{function}"


def _value(file: Path | None) -> bytes:
    """The value from `file`, else from stdin (never a terminal: it would echo, and linger)."""
    if file is None and sys.stdin.isatty():
        raise NoSecretValue("pipe the value in (`printf %s VALUE | veil secret set ...`) or --file")
    value = file.read_bytes() if file is not None else sys.stdin.buffer.read()
    if not value:
        raise NoSecretValue("the secret value is empty: refusing to store an empty secret")
    if len(value) > MAX_SECRET:
        raise NoSecretValue(f"the secret value is over {MAX_SECRET} bytes")
    return value


def _write(config: ClientConfig, write: SecretWrite) -> dict[str, Any]:
    seal_key = config.trust().kms_seal_key
    assert seal_key is not None  # load_config pinned it
    with RemoteTrust(config.kms) as kms:
        return kms.write_secret(write.sign(config.tenant_key(state.data_dir), seal_key))


def _refresh(config: ClientConfig, function: str) -> None:
    """Ask the gateway to renew the grants now; if it cannot, say when the change lands."""
    try:
        with gateway_client(config) as client:
            client.refresh(function)
    except (GatewayError, GatewayUnavailable) as exc:
        warn(f"the gateway did not renew the grants now ({exc}): enclaves read it within 5 min")


def _checked(name: str) -> str:
    try:
        return check_name(name)
    except ValueError as exc:
        error(exc)
        raise typer.Exit(2) from None


@secret_app.command("set")
def set_(
    function: FunctionArg,
    name: NameArg,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="read the value from FILE, not stdin")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Seal a secret's value (stdin or --file) to the KMS; the next request reads it."""
    name = _checked(name)
    with human_errors():
        try:
            value = _value(file)
        except NoSecretValue as exc:
            error(exc)
            raise typer.Exit(2) from None
        config = load_config()
        full = _full(config, function)
        entry = _write(config, SecretWrite(config.tenant, full, name, value))
        _refresh(config, full)
    if json_:
        emit_json({"function": full, **entry})
        return
    say("set secret [bold]{}[/] of {} (version {})", name, full, entry["version"])


@secret_app.command("rm")
def rm(function: FunctionArg, name: NameArg) -> None:
    """Remove a secret; the next request no longer reads it."""
    name = _checked(name)
    with human_errors():
        config = load_config()
        full = _full(config, function)
        entry = _write(config, SecretWrite(config.tenant, full, name, None))
        _refresh(config, full)
    say("removed secret [bold]{}[/] of {} (version {})", name, full, entry["version"])


@secret_app.command("ls")
def ls(function: FunctionArg, json_: JsonOpt = False) -> None:
    """A function's secret names, versions and times; never their values."""
    with human_errors():
        config = load_config()
        full = _full(config, function)
        query = SecretList(config.tenant, full).sign(config.tenant_key(state.data_dir))
        with RemoteTrust(config.kms) as kms:
            entries = kms.list_secrets(query)
    if json_:
        emit_json(entries)
        return
    if not entries:
        plain(f"{full} has no secrets — add one with `veil secret set {function} NAME`", out)
    for e in entries:
        when = datetime.fromtimestamp(e["updated_us"] / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S")
        state_ = "removed" if e["removed"] else "set"
        plain(f"{e['name']:32s} v{e['version']:<4} {state_:8s} {when} UTC", out)

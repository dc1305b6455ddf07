"""`veil versions`, `rollback`, `rm`: a function's versions as the KMS signed them.

Every retained version stays invocable as `NAME@N` (`veil invoke NAME@3`)
until the KMS prunes it (`veil up --retain`). Lists come from the KMS,
signed, and are verified here with the pinned KMS key; the host only relays them.
"""

from __future__ import annotations

import datetime
from typing import Annotated

import typer

from veil.cli.context import emit_json, gateway_client, human_errors, load_config, state
from veil.cli.functions import JsonOpt, _policy
from veil.cli.history import History
from veil.cli.output import error, out, plain, say, step
from veil.cli.owners import Owners
from veil.kms.errors import UnknownFunctionName
from veil.kms.remote import RemoteTrust
from veil.registration import VersionList
from veil.trusted.errors import VeilError

NameArg = Annotated[str, typer.Argument(help="function name, e.g. acme/hello or hello")]


def qualified(name: str, tenant: str) -> str:
    """`hello` as `tenant/hello`; a name with a `/` as it is."""
    return name if "/" in name else f"{tenant}/{name}"


def _when(issued_us: int) -> str:
    moment = datetime.datetime.fromtimestamp(issued_us / 1e6, datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def versions(name: NameArg, json_: JsonOpt = False) -> None:
    """List a function's retained versions (each invocable as NAME@N), KMS-signed."""
    with human_errors():
        config = load_config()
        full = qualified(name, config.tenant)
        with gateway_client(config) as client:
            listed = client.versions(full)
    if json_:
        emit_json(_as_json(listed))
        return
    for v in reversed(listed.versions):
        mark = "  current" if v.version == listed.current else ""
        plain(f"v{v.version:<4} {v.digest.hex()[:16]}…  {_when(v.issued_us)}{mark}", out)


def _as_json(listed: VersionList) -> dict[str, object]:
    rows = [
        {
            "version": v.version,
            "digest": v.digest.hex(),
            "deployed": _when(v.issued_us),
            "current": v.version == listed.current,
        }
        for v in listed.versions
    ]
    return {"name": listed.name, "current": listed.current, "versions": rows}


def rollback(
    name: NameArg,
    version: Annotated[int, typer.Argument(help="the version whose code to publish again")],
    policy: Annotated[str, typer.Option(help="dev or hardware, as for `veil deploy`")] = "dev",
    json_: JsonOpt = False,
) -> None:
    """Publish an old version's code as a new, higher version (freshness rules still hold)."""
    chosen = _policy(policy)
    with human_errors():
        config = load_config()
        full, history = qualified(name, config.tenant), History(state.data_dir)
        bundle = history.bundle(full, version)
        with gateway_client(config) as client:
            listed = client.versions(full)
            if version >= listed.current:
                error(f"{full} v{version} is not older than the current v{listed.current}")
                raise typer.Exit(1)
            kept = {v.version: v.digest for v in listed.versions}
            if kept.get(version, bundle.digest) != bundle.digest:
                error(f"the bundle kept as {full} v{version} is not the code the KMS signed for it")
                raise typer.Exit(1)
            with step(f"publishing v{version}'s code as a new version of {full} …"):
                record = client.deploy(
                    bundle,
                    tenant=config.tenant,
                    key=config.tenant_key(state.data_dir),
                    policy=chosen,
                )
        history.keep(full, record.version, bundle)
    if json_:
        emit_json({"name": full, "version": record.version, "from": version})
        return
    say("rolled back [bold]{}[/]: v{} runs v{}'s code", full, record.version, version)


def rm(name: NameArg) -> None:
    """Remove a function and all its versions: the KMS deletes their keys; enclaves stop."""
    with human_errors():
        config = load_config()
        full = qualified(name, config.tenant)
        with gateway_client(config) as client:
            client.remove(full, tenant=config.tenant, key=config.tenant_key(state.data_dir))
        _check_gone(config.kms, full)
        History(state.data_dir).forget(full)
        Owners(state.data_dir).forget(full)
    say("removed [bold]{}[/] and all its versions", full)


class RemovalNotApplied(VeilError):
    """The gateway answered that a function was removed, but the KMS still has its record."""


def _check_gone(kms_url: str, name: str) -> None:
    """The gateway's "removed" is the host's word: ask the KMS itself that `name` is gone."""
    with RemoteTrust(kms_url) as kms:
        try:
            kms.function_record(name)
        except UnknownFunctionName:
            return
    raise RemovalNotApplied(f"the gateway answered that {name} was removed; the KMS still has it")

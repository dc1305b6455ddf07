"""`veil new`, `build`, `deploy`, `invoke`, `ls`: the tenant's everyday commands."""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Final

import typer

from veil.attestation.policy import Policy
from veil.cli.context import (
    build_warnings,
    emit_json,
    gateway_client,
    human_errors,
    load_config,
    state,
)
from veil.cli.history import History
from veil.cli.logs import tenant_log_key
from veil.cli.output import err, error, out, plain, say, step, warn
from veil.cli.owners import Owners, origin
from veil.client.build import MANIFEST_FILE, BuildCache, read_bundle, read_project, scaffold
from veil.client.build import build as build_project
from veil.trusted.bundle import Bundle

JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
POLICIES: Final[dict[str, Callable[[], Policy]]] = {
    "dev": Policy.development,
    "hardware": Policy,
}
"""`veil deploy --policy`: the TEE policies a tenant can name."""
CACHE_DIR: Final = "build-cache"


def new(
    name: Annotated[
        str, typer.Argument(help="function name (the tenant prefix is added on deploy)")
    ],
    lang: Annotated[str, typer.Option(help="wasm, python or js")] = "wasm",
    directory: Annotated[Path | None, typer.Option("--dir", help="where to create it")] = None,
) -> None:
    """Scaffold a new function project."""
    with human_errors():
        dest = directory or Path(name)
        scaffold(name, dest, lang)
    say("created {}/ — next: [bold]veil deploy {}[/]", dest, dest)


def _build(path: Path, tenant: str) -> Bundle:
    """A project directory built (a Python build reused if unchanged), or a bundle file checked."""
    if path.is_file() and path.name == MANIFEST_FILE:
        path = path.parent
    if path.is_file():
        return read_bundle(path)
    project = read_project(path)
    cache = BuildCache(state.data_dir / CACHE_DIR)
    with build_warnings(), step(f"building {project.name} ({project.runtime}) …"):
        bundle = build_project(path, tenant, cache=cache)
    if cache.reused:
        plain(f"reused the last build of {path} (its sources and build tools are unchanged)")
    return bundle


def build(
    path: Annotated[Path, typer.Argument(help="project directory")] = Path("."),
    output: Annotated[Path | None, typer.Option("-o", "--output")] = None,
    json_: JsonOpt = False,
) -> None:
    """Build a project into a bundle file (manifest + code); `veil deploy` signs it."""
    with human_errors():
        config = load_config(pin=False)
        bundle = _build(path, config.tenant)
        target = output or path / f"{bundle.manifest.name.replace('/', '-')}.bundle"
        target.write_bytes(bundle.to_bytes())
    if json_:
        emit_json(
            {"bundle": str(target), "digest": bundle.digest.hex(), "size": target.stat().st_size}
        )
        return
    say("built {} ({} bytes), digest {}", target, target.stat().st_size, bundle.digest.hex())


def _policy(name: str) -> Policy:
    """The policy `--policy` names; anything else is a usage error (exit 2) naming the choices."""
    if name not in POLICIES:
        error(f"--policy {name!r} is not a policy; choose one of: {', '.join(POLICIES)}")
        raise typer.Exit(2)
    return POLICIES[name]()


def deploy(
    path: Annotated[Path, typer.Argument(help="project directory or .bundle file")] = Path("."),
    policy: Annotated[
        str, typer.Option(help="dev (accepts the sim TEE) or hardware (refuses it)")
    ] = "dev",
    secret: Annotated[
        list[str] | None,
        typer.Option(help="NAME=VALUE or NAME=@file, sealed to the KMS (repeatable)"),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="replace a function of the same name deployed from another project"
        ),
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Sign a bundle, seal its code and secrets, register it with the KMS, upload it."""
    chosen, secrets = _policy(policy), _secrets(secret or [])
    with human_errors():
        config = load_config()
        bundle = _build(path, config.tenant)
        if clash := sorted(secrets.keys() & bundle.manifest.config.keys()):
            error(f"{', '.join(clash)}: both a --secret and a [config] value; pick one")
            raise typer.Exit(2)
        name, project, owners = bundle.manifest.name, origin(path), Owners(state.data_dir)
        log_key = tenant_log_key(state.data_dir).public_bytes
        with gateway_client(config) as client:
            deployed = any(f["name"] == name for f in client.functions())
            owners.check(name, project, deployed=deployed, replace=replace)
            with step(f"deploying {name} …"):
                record = client.deploy(
                    bundle,
                    tenant=config.tenant,
                    key=config.tenant_key(state.data_dir),
                    policy=chosen,
                    secrets=secrets,
                    log_key=log_key,
                )
        owners.record(name, project)
        History(state.data_dir).keep(name, record.version, bundle)
    if json_:
        emit_json({"name": record.name, "version": record.version, "digest": record.digest.hex()})
        return
    say(
        "deployed [bold]{}[/] v{}, digest {}…",
        record.name,
        record.version,
        record.digest.hex()[:16],
    )
    for warning in chosen.warnings():
        warn(warning)


def _secrets(options: list[str]) -> dict[str, bytes]:
    """`--secret NAME=VALUE` / `NAME=@file` options as the secrets map."""
    secrets = {}
    for option in options:
        name, eq, value = option.partition("=")
        if not name or not eq:
            raise typer.BadParameter(f"--secret {option!r} is not NAME=VALUE or NAME=@file")
        secrets[name] = _read_data(value)
    return secrets


def _read_data(data: str | None) -> bytes:
    if data is None:
        return b""
    if data == "-":
        return sys.stdin.buffer.read()
    if data.startswith("@"):
        return Path(data[1:]).read_bytes()
    return data.encode()


def invoke(
    name: Annotated[str, typer.Argument(help="function name, e.g. acme/hello or hello")],
    data: Annotated[
        str | None, typer.Option("--data", "-d", help="input: text, @file, or - for stdin")
    ] = None,
    timeout: Annotated[float, typer.Option(help="seconds")] = 30.0,
    json_: JsonOpt = False,
) -> None:
    """Seal an input to a function, run it in an enclave, verify the receipt."""
    with human_errors():
        config = load_config()
        full = name if "/" in name else f"{config.tenant}/{name}"
        payload = _read_data(data)
        with (
            gateway_client(config) as client,
            step(f"invoking {full} (a first call cold-starts an enclave) …"),
        ):
            inv = client.invoke(full, payload, timeout_s=timeout)
    att, receipt = inv.attestation, inv.receipt
    if json_:
        emit_json(
            {
                "ok": inv.ok,
                "output": _text_or_b64(inv.output),
                "error": inv.error_kind or None,
                "message": inv.error_message or None,
                "logs": _text_or_b64(inv.logs),
                "receipt": {
                    "bundle": receipt.bundle_digest.hex(),
                    "snapshot": receipt.snapshot_hash.hex(),
                    "enclave": receipt.enclave_key_id.hex(),
                    "request": receipt.request_hash.hex(),
                },
                "attestation": {
                    "tee": att.tee,
                    "measurement": att.measurement,
                    "tcb_status": att.tcb_status,
                },
            }
        )
        raise typer.Exit(0 if inv.ok else 1)
    err.print(
        f"[green]✔ verified[/]: bundle {receipt.bundle_digest.hex()[:16]}… ran on TEE "
        f"[bold]{att.tee}[/] (measurement {att.measurement[:16]}…, TCB {att.tcb_status}) "
        f"in enclave {receipt.enclave_key_id.hex()[:16]}…"
    )
    if att.tee == "sim":
        err.print("[yellow]⚠ sim TEE: no hardware protection[/]")
    if not inv.ok:
        error(f"{inv.error_kind}: {inv.error_message}", label="function failed")
        raise typer.Exit(1)
    if inv.logs:
        plain(inv.logs.decode(errors="replace"), end="")
    sys.stdout.buffer.write(inv.output)
    if sys.stdout.isatty():
        sys.stdout.write("\n")


def _text_or_b64(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode()


def ls(json_: JsonOpt = False) -> None:
    """List deployed functions (records as the gateway holds them)."""
    with human_errors():
        config = load_config()
        with gateway_client(config) as client:
            functions = client.functions()
    if json_:
        emit_json(functions)
        return
    if not functions:
        plain("no functions deployed yet — try `veil new hello && veil deploy hello`", out)
    for f in functions:
        plain(f"{f['name']:40s} v{f['version']:<4} {f['digest'][:16]}…", out)

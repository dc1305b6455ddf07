"""`veil init`, `enclaves`, `logs`: setting up and watching the platform (`up` is in `up.py`)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from veil.cli.context import (
    emit_json,
    emit_json_line,
    gateway_client,
    human_errors,
    load_config,
    state,
)
from veil.cli.logs import show, tenant_log_key
from veil.cli.output import out, plain, say, warn
from veil.client.config import KEY_FILE, ClientConfig
from veil.client.keys import save_key
from veil.kms.remote import RemoteTrust, ServiceUnavailable
from veil.trusted.crypto.signing import SigningKey
from veil.wiring.services import DEFAULT_GATEWAY_PORT, DEFAULT_TRUST_PORT, admin_token

JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def init(
    tenant: Annotated[str, typer.Option(help="your tenant id")] = "acme",
    gateway: Annotated[
        str, typer.Option(help="gateway URL")
    ] = f"http://127.0.0.1:{DEFAULT_GATEWAY_PORT}",
    kms: Annotated[str, typer.Option(help="KMS URL")] = f"http://127.0.0.1:{DEFAULT_TRUST_PORT}",
) -> None:
    """Create the tenant keys and client config; register the tenant if the KMS is up."""
    key_path = state.data_dir / KEY_FILE
    if key_path.exists():
        warn(f"{key_path} exists: keeping the existing tenant key")
    else:
        save_key(SigningKey.generate(), key_path)
    tenant_log_key(state.data_dir)
    config = ClientConfig(tenant=tenant, gateway=gateway, kms=kms)
    config.save(state.data_dir)
    say("tenant [bold]{}[/], key {} (mode 0600)", tenant, key_path)
    try:
        register_local_tenant(config)
        plain(f"registered with the KMS at {kms}", out)
    except ServiceUnavailable:
        plain("the KMS is not running yet: `veil up` registers this tenant when it starts", out)


def register_local_tenant(config: ClientConfig) -> None:
    with RemoteTrust(config.kms) as trust:
        trust.register_tenant(
            config.tenant, config.tenant_key(state.data_dir).public, admin_token(state.data_dir)
        )


def enclaves(json_: JsonOpt = False) -> None:
    """List running enclaves and their attestation (TEE, key, functions)."""
    with human_errors():
        config = load_config()
        with gateway_client(config) as client:
            listed = client.enclaves()
    if json_:
        emit_json(listed)
        return
    for e in listed:
        plain(
            f"enclave {e['id']:<3} pid {e['pid']:<7} {e['state']:5s} tee={e['tee']} "
            f"key={e['key_id'][:16]}… functions={','.join(e['functions']) or '-'}",
            out,
        )


def logs(
    name: Annotated[
        str | None, typer.Argument(help="a function: what it printed, opened with your log key")
    ] = None,
    since: Annotated[int, typer.Option(help="host events only: after this sequence number")] = 0,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="keep polling; Ctrl-C stops")
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """A function's own log (NAME), or host-side events (deploys, cold starts, enclave deaths).

    A function's log is sealed to your tenant log key in its enclave and opened
    here; the host keeps only ciphertext. Host events never carry payloads.
    """
    with human_errors():
        config = load_config()
        if name is not None:
            show(config, name, follow=follow, json_=json_)
            return
        with gateway_client(config) as client:
            while True:
                events = client.events(since)
                for e in events:
                    if json_:
                        emit_json_line(e)
                    else:
                        stamp = time.strftime("%H:%M:%S", time.localtime(e["time"]))
                        detail = " ".join(f"{k}={v}" for k, v in e["detail"].items())
                        plain(f"{stamp} #{e['seq']:<5} {e['kind']:22s} {detail}", out)
                    since = e["seq"]
                if not follow:
                    return
                time.sleep(1)

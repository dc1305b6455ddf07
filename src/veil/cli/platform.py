"""`veil init`, `up`, `enclaves`, `logs`: setting up and watching the platform."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Annotated

import typer
import uvicorn

from veil.attestation.sim import WARNING
from veil.cli.config import KEY_FILE, ClientConfig
from veil.cli.context import emit_json, err, gateway_client, human_errors, load_config, out, state
from veil.client.keys import save_key
from veil.host.pool import PoolConfig
from veil.kms.remote import RemoteTrust, ServiceUnavailable
from veil.trusted.crypto.signing import SigningKey
from veil.wiring.processes import start_service, stop_process, wait_healthy
from veil.wiring.services import (
    DEFAULT_GATEWAY_PORT,
    DEFAULT_TRUST_PORT,
    admin_token,
    build_gateway,
    server_config,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def init(
    tenant: Annotated[str, typer.Option(help="your tenant id")] = "acme",
    gateway: Annotated[
        str, typer.Option(help="gateway URL")
    ] = f"http://127.0.0.1:{DEFAULT_GATEWAY_PORT}",
    kms: Annotated[str, typer.Option(help="KMS URL")] = f"http://127.0.0.1:{DEFAULT_TRUST_PORT}",
) -> None:
    """Create the tenant key and client config; register the tenant if the KMS is up."""
    key_path = state.data_dir / KEY_FILE
    if key_path.exists():
        err.print(f"[yellow]{key_path} exists: keeping the existing tenant key[/]")
    else:
        save_key(SigningKey.generate(), key_path)
    config = ClientConfig(tenant=tenant, gateway=gateway, kms=kms)
    config.save(state.data_dir)
    out.print(f"tenant [bold]{tenant}[/], key {key_path} (mode 0600)")
    try:
        register_local_tenant(config)
        out.print(f"registered with the KMS at {kms}")
    except ServiceUnavailable:
        out.print("the KMS is not running yet: `veil up` registers this tenant when it starts")


def register_local_tenant(config: ClientConfig) -> None:
    with RemoteTrust(config.kms) as trust:
        trust.register_tenant(
            config.tenant, config.tenant_key(state.data_dir).public, admin_token(state.data_dir)
        )


def up(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="gateway port")] = DEFAULT_GATEWAY_PORT,
    trust_port: Annotated[int, typer.Option(help="KMS and verifier port")] = DEFAULT_TRUST_PORT,
    stem_cells: Annotated[int, typer.Option(help="attested blank enclaves kept ready")] = 1,
    max_workers: Annotated[
        int, typer.Option(help="most enclave workers at once")
    ] = PoolConfig().max_workers,
) -> None:
    """Start the embedded platform in the foreground: KMS, verifier, gateway, enclave workers."""
    data_dir = state.data_dir
    trust_url = f"http://{host}:{trust_port}"
    err.print(f"[yellow]⚠ {WARNING}[/]")
    trust = start_service("trust", data_dir, host, trust_port)
    try:
        with err.status("starting KMS and verifier …"):
            wait_healthy(trust_url, process=trust)
        with contextlib.suppress(Exception):
            register_local_tenant(ClientConfig.load(data_dir))
        app, dispatcher = build_gateway(
            data_dir, trust_url, PoolConfig(stem_cells=stem_cells, max_workers=max_workers)
        )
        server = uvicorn.Server(server_config(app, host, port))

        async def status_line() -> None:
            while not server.should_exit:
                workers = dispatcher.workers.values()
                warm = sum(1 for w in workers if w.state == "warm")
                err.print(
                    f"\rveil up · gateway http://{host}:{port} · kms {trust_url} · "
                    f"enclaves {len(dispatcher.workers)} ({warm} warm) · data {data_dir}   ",
                    end="",
                    soft_wrap=True,
                    highlight=False,
                )
                await asyncio.sleep(2)

        async def serve() -> None:
            task = asyncio.create_task(status_line() if err.is_terminal else asyncio.sleep(0))
            try:
                await server.serve()
            finally:
                task.cancel()

        asyncio.run(serve())
    finally:
        stop_process(trust)
        err.print("\nstopped")


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
        out.print(
            f"enclave {e['id']:<3} pid {e['pid']:<7} {e['state']:5s} tee={e['tee']} "
            f"key={e['key_id'][:16]}… functions={','.join(e['functions']) or '-'}"
        )


def logs(
    since: Annotated[int, typer.Option(help="only events after this sequence number")] = 0,
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
    json_: JsonOpt = False,
) -> None:
    """Host-side events (deploys, cold starts, enclave deaths). Payloads never appear here."""
    with human_errors():
        config = load_config()
        with gateway_client(config) as client:
            while True:
                events = client.events(since)
                for e in events:
                    if json_:
                        emit_json(e)
                    else:
                        stamp = time.strftime("%H:%M:%S", time.localtime(e["time"]))
                        detail = " ".join(f"{k}={v}" for k, v in e["detail"].items())
                        out.print(
                            f"{stamp} #{e['seq']:<5} {e['kind']:22s} {detail}", highlight=False
                        )
                    since = e["seq"]
                if not follow:
                    return
                time.sleep(1)

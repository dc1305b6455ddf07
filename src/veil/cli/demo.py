"""`veil demo`: the whole story once, told as it happens."""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from pathlib import Path

import typer
from rich.console import Console

from veil.client.invoke import open_response, seal
from veil.host.inprocess import InProcessPlatform
from veil.samples import wasm
from veil.tee.sim import WARNING
from veil.trusted.bundle import Bundle, Manifest
from veil.trusted.errors import Refused
from veil.trusted.wire.envelope import Envelope


def demo() -> None:
    """Run the whole story once: deploy, attest, invoke, verify, refuse a tampered request."""
    logging.getLogger("veil.kms").setLevel(logging.ERROR)
    out = Console()
    with tempfile.TemporaryDirectory(prefix="veil-demo-") as tmp:
        _story(out, InProcessPlatform(Path(tmp)))


def _story(out: Console, platform: InProcessPlatform) -> None:
    out.rule("[bold]Veil demo[/] (in one process, sim TEE)")
    out.print(f"[yellow]⚠ {WARNING}[/]")
    bundle = Bundle(Manifest("acme/echo", "1.0"), wasm("echo"))
    deployed = platform.deploy(bundle)
    out.print(f"1. tenant [bold]acme[/] signed bundle [cyan]{bundle.digest.hex()[:16]}…[/]")
    out.print(f"   KMS registered it and published its HPKE key ({deployed.record.suite.value})")
    enclave = platform.start_enclave()
    out.print(f"2. enclave {enclave.key_id.hex()[:16]}… started, evidence verified, attested")
    platform.provision(enclave, deployed)
    out.print("3. KMS released the function key to that enclave only (sealed with HPKE)")
    request = seal(deployed.record, b"hello from the client")
    env = Envelope.from_bytes(request.envelope)
    out.print(
        f"4. the host sees: function={env.meta.function} request_id={env.meta.request_id.hex()} "
        f"and {len(env.sealed)} bytes of ciphertext"
    )
    invocation = open_response(request, enclave.handle(request.envelope), platform.trust)
    out.print(f"5. the client got: [green]{invocation.output.decode()!r}[/]")
    out.print(
        f"   receipt verified: bundle {invocation.receipt.bundle_digest.hex()[:16]}… ran on "
        f"TEE [bold]{invocation.attestation.tee}[/], measurement "
        f"{invocation.attestation.measurement[:16]}…"
    )
    tampered = Envelope(
        dataclasses.replace(env.meta, deadline_ms=env.meta.deadline_ms + 1), env.sealed
    )
    try:
        enclave.handle(tampered.to_bytes())
    except Refused as exc:
        out.print(f"6. a host that edits the deadline is [red]refused[/]: {type(exc).__name__}")
    else:  # pragma: no cover - would be a security bug
        raise typer.Exit(1)
    out.rule("done")

"""`veil demo`: start the embedded platform, deploy sample functions, tell the story.

What the host saw (metadata and ciphertext sizes), what the client got
(plaintext, verified receipt, TEE and measurement), and a host that tampers
with or replays a request, refused while the enclave keeps serving.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from pathlib import Path

import httpx
import typer
from rich.console import Console

from veil.attestation.sim import WARNING
from veil.client.build import build, scaffold
from veil.client.invoke import open_response, seal
from veil.client.sdk import Client
from veil.samples import wasm
from veil.trusted.bundle import Bundle, Manifest
from veil.trusted.wire.envelope import Envelope, Response
from veil.trusted.wire.records import FunctionRecord
from veil.wiring.embedded import EmbeddedPlatform

SAMPLES = [
    ("acme/upper", "wasi-command", "upper", "a WASI command: stdin → stdout"),
    ("acme/sha256", "reactor", "sha256", "SHA-256 in Wasm"),
    ("acme/echo", "reactor", "echo", "returns its input"),
]


def demo() -> None:
    """Run the whole story once: deploy, attest, invoke, verify, refuse a tampered request."""
    logging.getLogger("veil").setLevel(logging.ERROR)
    out = Console(highlight=False)
    out.rule("[bold]Veil demo[/] — the embedded platform")
    out.print(f"[yellow]⚠ {WARNING}.[/]\n")
    with (
        tempfile.TemporaryDirectory(prefix="veil-demo-") as tmp,
        (Path(tmp) / "kms.log").open("wb") as kms_log,
    ):
        platform = EmbeddedPlatform(Path(tmp) / "data", trust_log=kms_log, capture_logs=False)
        started = time.monotonic()
        with out.status("starting the KMS and verifier, the gateway and a stem-cell enclave …"):
            platform.start()
        try:
            out.print(
                f"platform up in {time.monotonic() - started:.1f} s: gateway "
                f"{platform.gateway_url}, KMS and verifier {platform.trust_url}"
            )
            with platform.client() as client:
                _story(out, platform, client)
        finally:
            platform.stop()
    out.rule("done — `veil up` runs this platform for real; see README.md")


def _story(out: Console, platform: EmbeddedPlatform, client: Client) -> None:
    out.print(
        "\n[bold]1. Deploy[/] — tenant [bold]acme[/] signs each bundle; the KMS makes its key"
    )
    for name, abi, sample, what in SAMPLES:
        record = platform.deploy_bundle(
            client, Bundle(Manifest(name, "1.0", abi=abi), wasm(sample))
        )
        out.print(
            f"   {name:12s} {what:32s} digest {record.digest.hex()[:12]}…  "
            f"HPKE {record.suite.value} key {record.public_key.hex()[:12]}…"
        )
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "greet"
        scaffold("greet", project, "js")
        with out.status("building a JavaScript function (`veil new --lang js greet`) …"):
            bundle = build(project, platform.tenant)
        record = platform.deploy_bundle(client, bundle)
    _deployed(out, record, "JavaScript on QuickJS in Wasm")
    with out.status("invoking it (a first call compiles QuickJS in the enclave) …"):
        greeting = client.invoke("acme/greet", b'{"from": "the demo"}')
    out.print(f"   acme/greet answered [green]{greeting.output.decode()}[/]")
    out.print("\n[bold]2. Invoke[/] acme/upper with a secret input")
    secret = b"my card number is 4111-1111-1111-1111"
    request = seal(client.function("acme/upper"), secret, enclave=client.enclave_for("acme/upper"))
    meta = Envelope.from_bytes(request.envelope).meta
    with out.status("first call: cold start from a stem cell (key release, load, init) …"):
        reply = httpx.post(f"{platform.gateway_url}/v1/invoke/acme/upper", content=request.envelope)
    reply.raise_for_status()
    invocation = open_response(request, reply.content, client.trust)
    response = Response.from_bytes(reply.content)
    out.print("   [dim]what the host saw:[/]")
    out.print(
        f"     function={meta.function} request_id={meta.request_id.hex()[:16]}… "
        f"enclave={meta.enclave.hex()[:12]}… deadline={meta.deadline_ms}, "
        f"{len(Envelope.from_bytes(request.envelope).sealed)} bytes "
        f"of ciphertext in, {len(response.sealed)} bytes of ciphertext + a receipt out"
    )
    out.print("   [dim]what the client got:[/]")
    out.print(f"     [green]{invocation.output.decode()!r}[/]")
    att, receipt = invocation.attestation, invocation.receipt
    out.print(
        f"     receipt verified: bundle {receipt.bundle_digest.hex()[:12]}…, snapshot "
        f"{receipt.snapshot_hash.hex()[:12]}…, enclave {receipt.enclave_key_id.hex()[:12]}…"
    )
    out.print(
        f"     attested: TEE [bold]{att.tee}[/], measurement {att.measurement[:16]}…, "
        f"TCB {att.tcb_status}"
    )
    data = bytes(range(256)) * 256
    digest = client.invoke("acme/sha256", data).output
    match = "[green]matches[/]" if digest == hashlib.sha256(data).digest() else "[red]DIFFERS[/]"
    out.print(f"   acme/sha256 of 64 KiB in the enclave: {digest.hex()[:16]}… {match} hashlib")
    _attacks(out, platform, client)
    cold = [e for e in client.events() if e["kind"] == "cold_start"]
    out.print("\n[bold]4. Host log[/] (`veil logs`: metadata only)")
    for event in client.events()[-6:]:
        detail = " ".join(f"{k}={v}" for k, v in event["detail"].items())
        out.print(f"   {event['kind']:16s} {detail}")
    if cold:
        out.print(f"   cold starts: {', '.join(str(e['detail']['ms']) + ' ms' for e in cold)}")


def _deployed(out: Console, record: FunctionRecord, what: str) -> None:
    out.print(
        f"   {record.name:12s} {what:32s} digest {record.digest.hex()[:12]}…  "
        f"HPKE {record.suite.value} key {record.public_key.hex()[:12]}…"
    )


def _attacks(out: Console, platform: EmbeddedPlatform, client: Client) -> None:
    out.print("\n[bold]3. A malicious host[/]")
    url = f"{platform.gateway_url}/v1/invoke/acme/echo"
    request = seal(
        client.function("acme/echo"), b"transfer 10 EUR", enclave=client.enclave_for("acme/echo")
    )
    env = Envelope.from_bytes(request.envelope)
    flipped = bytearray(env.sealed)
    flipped[-1] ^= 1
    tampered = httpx.post(url, content=Envelope(env.meta, bytes(flipped)).to_bytes())
    refusal = tampered.json()["error"]
    out.print(f"   flips one ciphertext bit:     [red]{tampered.status_code} {refusal}[/]")
    first = httpx.post(url, content=request.envelope)
    replay = httpx.post(url, content=request.envelope)
    out.print(
        f"   replays a served request:     [red]{replay.status_code} {replay.json()['error']}[/] "
        f"(the original got {first.status_code})"
    )
    if tampered.status_code == 200 or replay.status_code == 200:  # would be a security bug
        raise typer.Exit(1)
    after = client.invoke("acme/echo", b"still serving").output.decode()
    out.print(f"   and the enclave keeps serving: [green]{after!r}[/]")

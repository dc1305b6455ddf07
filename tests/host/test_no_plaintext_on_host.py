"""The host sees metadata and ciphertext only: a known marker input never appears in the
gateway's memory or logs, and neither does the function's private key."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import cbor2
import httpx
import pytest

from veil.client.build.scaffold import WASM_MODULE
from veil.kms.store import KmsStore, load_or_create_master_key
from veil.trusted.bundle import Bundle, Manifest
from veil.trusted.crypto import recipes
from veil.trusted.wire.envelope import Envelope, Metadata
from veil.wiring.embedded import EmbeddedPlatform

MARKER = b"VEIL-MARKER-7f3a9c2e51d84b06-DO-NOT-LEAK"


def hello_bundle() -> Bundle:
    import wasmtime

    return Bundle(Manifest("acme/hello", "1"), wasmtime.wat2wasm(WASM_MODULE.format(name="hello")))


def process_memory(pid: int) -> Iterator[bytes]:
    """Every readable mapping of a process, as a memory dump would hold it."""
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if "r" not in fields[1] or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(start)
                yield mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue


@pytest.mark.skipif(not os.access("/proc/self/mem", os.R_OK), reason="needs /proc")
def test_marker_and_keys_never_reach_gateway_memory_or_logs(tmp_path: Path) -> None:
    platform = EmbeddedPlatform(tmp_path / "data").start()
    try:
        with platform.client() as client:
            platform.deploy(client, hello_bundle())
            for _ in range(20):
                assert client.invoke("acme/hello", MARKER).output == b"hello, " + MARKER
            events = repr(client.events()).encode()
        store = KmsStore(
            tmp_path / "data/kms.sqlite3",
            load_or_create_master_key(tmp_path / "data/kms-master.key"),
        )
        row = store.function("acme/hello")
        assert row is not None
        secrets = {"marker": MARKER, "function private key": row.private_key}
        assert platform.gateway_proc is not None
        dump = b"".join(process_memory(platform.gateway_proc.pid))
        assert len(dump) > 10_000_000, "the dump should cover the whole gateway process"
        logs = platform.stop_gateway()
        for what, secret in secrets.items():
            assert secret not in dump, f"{what} found in gateway memory"
            assert secret not in logs and secret not in events, f"{what} found in host logs"
        assert re.search(rb"acme/hello", dump), "sanity: routing metadata is visible to the host"
    finally:
        platform.stop()


def test_an_enclave_error_quoting_decrypted_data_reaches_the_host_as_fixed_text(
    tmp_path: Path,
) -> None:
    """The sealed payload parses but names an unexpected field: the parser's own message
    quotes that (decrypted) field name. Only the fixed refusal text may reach the host."""
    platform = EmbeddedPlatform(tmp_path / "data").start()
    try:
        with platform.client() as client:
            record = platform.deploy(client, hello_bundle())
            enclave = client.enclave_for(record.name)
        meta = Metadata(
            record.name,
            os.urandom(16),
            int((time.time() + 30) * 1000),
            record.digest,
            record.version,
            enclave,
        )
        payload = cbor2.dumps({"input": b"", "reply_key": bytes(32), MARKER.decode(): b""})
        sealed = recipes.seal_request(record.suite, record.public_key, payload, meta.info())
        answer = httpx.post(
            f"{platform.gateway_url}/v1/invoke/{record.name}",
            content=Envelope(meta, sealed).to_bytes(),
        )
        assert (answer.status_code, answer.json()["error"]) == (400, "MalformedMessage")
        assert answer.json()["detail"] == "message does not parse"
        logs = platform.stop_gateway()
        assert MARKER not in answer.content and MARKER not in logs
    finally:
        platform.stop()

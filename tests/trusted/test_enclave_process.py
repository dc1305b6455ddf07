"""The enclave process (`python -m veil.trusted`) loads only measured code and dials nothing.

Real processes throughout: a KMS + verifier service, the real Dispatcher
spawning real enclave processes, real sockets; the host relays for them.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import cbor2
import pytest

from tests.conftest import echo_bundle, register_in
from veil.client.invoke import open_response, seal
from veil.host.dispatcher import Dispatcher
from veil.host.pool import PoolConfig
from veil.host.registry import Registry
from veil.kms.errors import WrongKms
from veil.kms.remote import RemoteTrust
from veil.trusted.attest.sim import DISTRIBUTIONS, measured_files
from veil.trusted.channel import frame, split_frames
from veil.trusted.crypto import recipes
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.wire.envelope import Envelope, Metadata
from veil.wiring.embedded import EmbeddedPlatform

SRC = Path(__file__).resolve().parents[2] / "src"


def measured_modules() -> set[str]:
    """Module names of the measured .py files: what the enclave may import from Veil."""
    names = set()
    for path in measured_files():
        if path.suffix == ".py":
            parts = path.relative_to(SRC).with_suffix("").parts
            names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def serve_one_function(platform: EmbeddedPlatform, tmp_path: Path) -> dict[str, Any]:
    """Cold-start and invoke a function through the real Dispatcher; the worker's info after."""

    async def run() -> dict[str, Any]:
        remote = RemoteTrust(platform.trust_url)
        registry = Registry(tmp_path / "registry.sqlite3")
        record = register_in(platform, remote, registry, echo_bundle())
        config = PoolConfig(stem_cells=1, max_workers=1)
        dispatcher = Dispatcher(registry, remote, platform.data_dir / "sim-host.key", config)
        await dispatcher.start()
        try:
            (worker,) = dispatcher.workers.values()  # the stem cell the request names
            request = seal(record, b"measured", enclave=worker.key_id)
            deadline = time.monotonic() + 30
            reply = await dispatcher.invoke(record.name, worker.key_id, request.envelope, deadline)
            assert open_response(request, reply, platform.trust()).output == b"measured"
            info: dict[str, Any] = cbor2.loads(await worker.channel.call("info", b""))
            info["events"] = dispatcher.events.since()
            return info
        finally:
            await dispatcher.stop()
            remote.close()

    return asyncio.run(run())


def test_a_serving_enclave_has_loaded_only_measured_veil_modules(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    info = serve_one_function(trust, tmp_path)
    assert info["functions"] == ["acme/echo"]
    assert "veil.trusted.service" in info["modules"]
    assert set(info["modules"]) <= measured_modules()
    assert not [m for m in info["modules"] if m.startswith(("veil.host", "veil.kms"))]


def test_a_serving_enclave_imports_no_http_client_and_only_measured_libraries(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    libraries = set(serve_one_function(trust, tmp_path)["libraries"])
    assert not libraries & {"httpx", "httpcore", "h11", "anyio", "fastapi", "uvicorn"}
    owners = metadata.packages_distributions()
    extension_owners = {"_cbor2": "cbor2", "_openssl": "cryptography"}  # C/Rust modules
    site_hooks = {"_distutils_hack"}  # setuptools' .pth hook: run by `site` before any Veil code
    unmeasured = {
        lib
        for lib in libraries - site_hooks
        if not {*owners.get(lib, []), extension_owners.get(lib)} & set(DISTRIBUTIONS)
    }
    assert not unmeasured


def test_key_release_and_install_timings_reach_the_cold_start_event(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    events = serve_one_function(trust, tmp_path)["events"]
    (cold,) = [e["detail"] for e in events if e["kind"] == "cold_start"]
    assert cold["key_release_ms"] > 0 and cold["install_ms"] > 0


class Dialled:
    """An enclave process that dialled a Unix socket, and the host's end of it."""

    def __init__(self, tmp_path: Path, kms_key: str, sim_key: Path) -> None:
        path = str(tmp_path / "host.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(1)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "veil.trusted",
                "--connect",
                path,
                *("--sim-key", str(sim_key)),
                *("--kms-key", kms_key),
            ],
            stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.listener.settimeout(30)
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(30)
        self.ids = iter(range(1, 1_000_000))
        self.stderr: bytes | None = None

    def call(self, op: str, arg: object = b"") -> dict[str, Any]:
        self.conn.sendall(frame({"id": next(self.ids), "op": op, "arg": arg}))
        buffer = bytearray()
        while not (replies := split_frames(buffer)):
            data = self.conn.recv(65536)
            assert data, "the enclave closed the channel"
            buffer += data
        return replies[0]

    def body(self, op: str, arg: object = b"") -> bytes:
        reply = self.call(op, arg)
        assert reply["ok"], reply
        return bytes(reply["body"])

    def attest(self, remote: RemoteTrust) -> str:
        """What the host relays at spawn: nonce → evidence → verifier → result back in."""
        nonce = remote.challenge()
        ev = cbor2.loads(self.body("evidence", nonce))
        token = remote.attest(ev["tee"], ev["evidence"], ev["binding"], nonce)
        assert self.body("attested", token) == b""
        return token

    def close(self) -> bytes:
        """Hang up; the enclave's stderr (all it printed), once it has exited."""
        if self.stderr is None:
            self.conn.close()
            try:
                self.process.wait(10)
            finally:
                self.process.kill()
                self.listener.close()
            assert self.process.stderr is not None
            with self.process.stderr:
                self.stderr = self.process.stderr.read()
        return self.stderr


@pytest.fixture
def dialled(trust: EmbeddedPlatform, tmp_path: Path) -> Iterator[Dialled]:
    with RemoteTrust(trust.trust_url) as remote:
        kms_key = remote.public_key.raw.hex()
    enclave = Dialled(tmp_path, kms_key, trust.data_dir / "sim-host.key")
    yield enclave
    enclave.close()


def test_an_enclave_dials_its_host_and_is_attested_through_the_relay(
    trust: EmbeddedPlatform, dialled: Dialled
) -> None:
    with RemoteTrust(trust.trust_url) as remote:
        token = dialled.attest(remote)
    info = cbor2.loads(dialled.body("info"))
    assert info["tee"] == "sim" and info["attestation"] == token and token.count(".") == 2


def test_the_enclave_exits_quietly_when_the_host_hangs_up(dialled: Dialled) -> None:
    assert dialled.body("ping", b"x") == b"x"
    assert dialled.close() == b""
    assert dialled.process.returncode == 0


def test_an_enclave_given_another_kms_key_gets_no_keys_from_the_real_kms(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    rogue = SigningKey.generate().public.raw.hex()
    enclave = Dialled(tmp_path, rogue, trust.data_dir / "sim-host.key")
    try:
        with RemoteTrust(trust.trust_url) as remote:
            enclave.attest(remote)  # the verifier attests it: its evidence is honest
            request = enclave.body("key_request", {"fn": "acme/echo", "digest": bytes(32)})
            with pytest.raises(WrongKms):
                remote.release(request)
    finally:
        enclave.close()


def test_an_oversized_frame_header_ends_the_channel_before_any_buffering(
    dialled: Dialled,
) -> None:
    dialled.conn.sendall((2**32 - 1).to_bytes(4, "big"))
    assert dialled.conn.recv(10) == b""
    assert dialled.close() == b""


@pytest.mark.parametrize(
    "body",
    [b"\xff\xff", cbor2.dumps([1, 2]), cbor2.dumps({"op": "info"}), cbor2.dumps({"id": 1})],
    ids=["not-cbor", "not-a-map", "no-id", "no-op"],
)
def test_a_frame_that_is_not_a_call_ends_the_channel(dialled: Dialled, body: bytes) -> None:
    dialled.conn.sendall(len(body).to_bytes(4, "big") + body)
    assert dialled.conn.recv(10) == b""
    assert dialled.close() == b""


def test_an_error_quoting_decrypted_data_crosses_the_channel_as_fixed_text_only(
    trust: EmbeddedPlatform, dialled: Dialled, tmp_path: Path
) -> None:
    """The sealed payload opens but has a field named with the tenant's secret, which
    the payload parser's own message quotes: not a byte of it may reach the host."""
    secret = "VEIL-MARKER-a41c-tenant-plaintext"
    with RemoteTrust(trust.trust_url) as remote:
        dialled.attest(remote)
        registry = Registry(tmp_path / "registry.sqlite3")
        record = register_in(trust, remote, registry, echo_bundle())
        request = dialled.body("key_request", {"fn": record.name, "digest": record.digest})
        grant = remote.release(request)
    bundle = registry.bundle(record.digest)
    dialled.body("install", {"bundle": bundle, "grant": grant})
    enclave = cbor2.loads(dialled.body("info"))["key_id"]
    meta = Metadata(
        record.name,
        os.urandom(16),
        int((time.time() + 30) * 1000),
        record.digest,
        record.version,
        enclave,
    )
    payload = cbor2.dumps({"input": b"x", "reply_key": bytes(32), secret: b""})
    sealed = recipes.seal_request(record.suite, record.public_key, payload, meta.info())
    dialled.conn.sendall(frame({"id": 7, "op": "invoke", "arg": Envelope(meta, sealed).to_bytes()}))
    raw = dialled.conn.recv(65536)
    (reply,) = split_frames(bytearray(raw))
    assert reply == {
        "id": 7,
        "ok": False,
        "error": "MalformedMessage",
        "detail": "message does not parse",
    }
    assert secret.encode() not in raw
    assert secret.encode() not in dialled.close()

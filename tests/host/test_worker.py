"""A worker can dial its dispatcher (as it must from inside a real TEE) and picks its attester."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import cbor2
import pytest

from veil.host.ipc import frame, split_frames
from veil.host.launcher import EmbeddedPlatform
from veil.host.worker import make_attester
from veil.trusted.attest.gramine import GramineAttester
from veil.trusted.attest.sim import SimAttester
from veil.trusted.attest.tsm import TsmAttester


def test_worker_dials_a_unix_socket_attests_and_answers(tmp_path: Path) -> None:
    platform = EmbeddedPlatform(tmp_path / "data")
    platform.start_trust()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = str(tmp_path / "dispatcher.sock")
    listener.bind(path)
    listener.listen(1)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "veil.host.worker",
            "--connect",
            path,
            "--trust-url",
            platform.trust_url,
            "--sim-key",
            str(tmp_path / "data/sim-host.key"),
        ],
        stdin=subprocess.DEVNULL,
    )
    try:
        listener.settimeout(30)
        conn, _ = listener.accept()
        conn.settimeout(30)
        conn.sendall(frame({"id": 1, "op": "info", "arg": b""}))
        buffer = bytearray()
        while not (replies := split_frames(buffer)):
            buffer += conn.recv(65536)
        info = cbor2.loads(replies[0]["body"])
        assert info["tee"] == "sim" and info["attestation"].count(".") == 2
        conn.close()
        assert worker.wait(10) == 0
    finally:
        worker.kill()
        worker.wait()
        listener.close()
        platform.stop()


def test_attester_is_chosen_by_tee_type(tmp_path: Path) -> None:
    assert isinstance(make_attester("sim", tmp_path / "k"), SimAttester)
    assert isinstance(make_attester("sgx", None), GramineAttester)
    assert isinstance(make_attester("tdx", None), TsmAttester)
    assert make_attester("snp", None).tee == "snp"
    with pytest.raises(SystemExit):
        make_attester("sim", None)

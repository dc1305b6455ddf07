"""An enclave worker process: one enclave, its own keys and evidence, serving over IPC.

Started by the dispatcher with one end of a socketpair. On start it attests
(fresh keys, a verifier nonce, sim evidence, an attestation result): a blank,
attested "stem cell". `load` turns it warm for a function (key release from
the KMS, bundle check, compile, init); `invoke` serves sealed requests.

This module is the host side of the enclave: it moves bytes between the
dispatcher, the KMS and `veil.trusted.enclave.Enclave`, which checks them.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import cbor2

from veil.host.ipc import serve
from veil.kms.remote import RemoteTrust
from veil.trusted.attest.attester import Attester
from veil.trusted.attest.gramine import GramineAttester
from veil.trusted.attest.sim import TEE, SimAttester, load_or_create_host_key
from veil.trusted.attest.tsm import TsmAttester
from veil.trusted.enclave import Enclave
from veil.trusted.sandbox import command, reactor  # noqa: F401  (loaded before the first cold start)

TEES = (TEE, "sgx", "tdx", "snp")


class Worker:
    def __init__(self, trust: RemoteTrust, attester: Attester) -> None:
        self._trust = trust
        self._attester = attester
        self.enclave = Enclave(trust.public_key)
        self.token = self._attest()

    def _attest(self) -> str:
        nonce = self._trust.challenge()
        evidence = self._attester.evidence(self.enclave.report_data(nonce))
        binding = self.enclave.binding.to_bytes()
        token = self._trust.attest(self._attester.tee, evidence, binding, nonce)
        self.enclave.set_attestation(token)
        return token

    def handle(self, op: str, arg: Any) -> bytes:
        if op == "invoke":
            return self.enclave.handle(arg)
        if op == "load":
            start = time.perf_counter()
            request = self.enclave.key_request(arg["fn"], arg["digest"])
            grant = self._trust.release(request)
            released = time.perf_counter()
            self.enclave.install(arg["bundle"], grant)
            done = time.perf_counter()
            return cbor2.dumps(
                {
                    "key_release_ms": (released - start) * 1000,
                    "install_ms": (done - released) * 1000,
                }
            )
        if op == "info":
            return cbor2.dumps(
                {
                    "pid": os.getpid(),
                    "key_id": self.enclave.key_id,
                    "tee": self._attester.tee,
                    "attestation": self.token,
                    "functions": sorted(self.enclave.functions()),
                }
            )
        if op == "ping":
            return bytes(arg)
        raise ValueError(f"unknown operation {op!r}")


def make_attester(tee: str, sim_key: Path | None) -> Attester:
    """The evidence producer for this TEE: sim, sgx (Gramine), tdx or snp (configfs-tsm)."""
    if tee == TEE:
        if sim_key is None:
            raise SystemExit("the sim TEE needs --sim-key")
        return SimAttester(load_or_create_host_key(sim_key))
    if tee == "sgx":
        return GramineAttester()
    return TsmAttester(tee)


def connect(address: str) -> socket.socket:
    """Dial the dispatcher: a Unix socket path, or HOST:PORT.

    Inside a real TEE (Gramine, a confidential VM) the worker cannot inherit
    a descriptor from the host, so it connects out; the channel carries only
    what the host may see anyway.
    """
    if ":" in address and not address.startswith("/"):
        host, _, port = address.rpartition(":")
        return socket.create_connection((host, int(port)))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(address)
    return sock


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="veil-worker")
    channel = parser.add_mutually_exclusive_group(required=True)
    channel.add_argument("--fd", type=int, help="inherited socket to the dispatcher")
    channel.add_argument("--connect", help="dispatcher address: /unix/path or host:port")
    parser.add_argument("--trust-url", required=True)
    parser.add_argument("--tee", default=os.environ.get("VEIL_TEE", TEE), choices=TEES)
    parser.add_argument("--sim-key", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    sock = socket.socket(fileno=args.fd) if args.fd is not None else connect(args.connect)
    worker = Worker(RemoteTrust(args.trust_url), make_attester(args.tee, args.sim_key))
    try:
        serve(sock, worker.handle)
    except (ConnectionError, KeyboardInterrupt):
        pass


if __name__ == "__main__":
    main()

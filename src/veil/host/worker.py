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
import importlib
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

import cbor2

from veil.host.ipc import serve
from veil.kms.remote import RemoteTrust
from veil.tee.sim import TEE, SimAttester, load_or_create_host_key
from veil.trusted.enclave import Enclave
from veil.trusted.sandbox.loader import RUNTIMES


def preload_runtimes() -> None:
    """Import every sandbox runtime now, while this is a stem cell.

    Imported lazily, the first function load in a fresh worker paid for
    the imports (7-10 ms here, more than half of the cold start); a stem
    cell does it before it reports ready, so a cold start is only key
    release + load + init.
    """
    for target in RUNTIMES.values():
        importlib.import_module(target.partition(":")[0])


class Worker:
    def __init__(self, trust: RemoteTrust, attester: SimAttester) -> None:
        preload_runtimes()
        self._trust = trust
        self._attester = attester
        self.enclave = Enclave(trust.public_key)
        self.token = self._attest()

    def _attest(self) -> str:
        nonce = self._trust.challenge()
        evidence = self._attester.evidence(self.enclave.report_data(nonce))
        token = self._trust.attest(TEE, evidence, self.enclave.binding.to_bytes(), nonce)
        self.enclave.set_attestation(token)
        return token

    def handle(self, op: str, arg: Any) -> bytes:
        if op == "invoke":
            return self.enclave.handle(arg)
        if op == "load":
            request = self.enclave.key_request(arg["fn"], arg["digest"])
            self.enclave.install(arg["bundle"], self._trust.release(request))
            return b""
        if op == "info":
            return cbor2.dumps(
                {
                    "pid": os.getpid(),
                    "key_id": self.enclave.key_id,
                    "tee": TEE,
                    "attestation": self.token,
                    "functions": sorted(self.enclave.functions()),
                }
            )
        if op == "ping":
            return bytes(arg)
        raise ValueError(f"unknown operation {op!r}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="veil-worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--trust-url", required=True)
    parser.add_argument("--sim-key", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    sock = socket.socket(fileno=args.fd)
    worker = Worker(RemoteTrust(args.trust_url), SimAttester(load_or_create_host_key(args.sim_key)))
    try:
        serve(sock, worker.handle)
    except (ConnectionError, KeyboardInterrupt):
        pass


if __name__ == "__main__":
    main()

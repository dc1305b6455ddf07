"""`python -m veil.trusted`: the enclave process, loading only measured code (`veil.trusted`).

It dials nothing but its host, which relays for it (see `service`), and prints
nothing about a failure: status 2 for bad arguments, 1 for anything else.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

from veil.trusted.attest import TEES, make_attester
from veil.trusted.channel import serve
from veil.trusted.crypto.signing import VerifyKey
from veil.trusted.enclave import Enclave
from veil.trusted.sandbox import command, reactor  # noqa: F401  (loaded before the first cold start)
from veil.trusted.service import EnclaveService


def connect(address: str) -> socket.socket:
    """Dial the host (/unix/path or HOST:PORT): in a real TEE there is no fd to inherit."""
    if ":" in address and not address.startswith("/"):
        host, _, port = address.rpartition(":")
        return socket.create_connection((host, int(port)))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(address)
    return sock


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m veil.trusted")
    channel = parser.add_mutually_exclusive_group(required=True)
    channel.add_argument("--fd", type=int, help="inherited socket to the host")
    channel.add_argument("--connect", help="host address: /unix/path or host:port")
    parser.add_argument("--tee", default=os.environ.get("VEIL_TEE", "sim"), choices=TEES)
    parser.add_argument("--sim-key", type=Path, help="the sim TEE's host key file")
    parser.add_argument("--kms-key", required=True, help="hex: the one KMS key to trust")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        kms_key = VerifyKey(bytes.fromhex(args.kms_key))
        service = EnclaveService(Enclave(kms_key), make_attester(args.tee, args.sim_key))
        sock = socket.socket(fileno=args.fd) if args.fd is not None else connect(args.connect)
        serve(sock, service.handle)
    except (ConnectionError, KeyboardInterrupt):
        return 0
    except Exception:  # the reason stays inside: a traceback would go to the host's log
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

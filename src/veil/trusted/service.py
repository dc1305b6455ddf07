"""The operations the enclave serves: the host relays nonces, results, grants, requests.

Each op checks its argument's shape (`MalformedMessage`) before `Enclave`
verifies its content; the enclave itself makes no network call.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from veil.trusted.attest.attester import Attester
from veil.trusted.enclave import Enclave
from veil.trusted.errors import MalformedMessage
from veil.trusted.wire import cbor
from veil.trusted.wire.binding import NONCE_SIZE

CLOCK_OPS = frozenset({"time_request", "time_anchor"})
OPS = CLOCK_OPS | {"info", "evidence", "attested", "key_request", "install", "invoke", "ping"}


def _expect(arg: object, kind: type) -> Any:
    if not isinstance(arg, kind):
        raise MalformedMessage("operation argument has the wrong type")
    return arg


def loaded_modules() -> tuple[list[str], list[str]]:
    """What this process imported, for tests: Veil modules, and other non-stdlib top levels."""
    tops = {name.partition(".")[0] for name in sys.modules} - set(sys.stdlib_module_names)
    veil = sorted(name for name in sys.modules if name == "veil" or name.startswith("veil."))
    return veil, sorted(tops - {"veil", "__main__"})


class EnclaveService:
    """Owns one `Enclave` and its attester; answers `handle(op, arg)` with reply bytes."""

    def __init__(self, enclave: Enclave, attester: Attester) -> None:
        self.enclave = enclave
        self.attester = attester
        self.token: str | None = None

    def handle(self, op: str, arg: object) -> bytes:
        if op not in OPS:  # checked before the name reaches getattr
            raise MalformedMessage("unknown operation")
        operation: Callable[[object], bytes] = getattr(self, f"_{op}")
        return operation(arg)

    def _invoke(self, envelope: object) -> bytes:
        return self.enclave.handle(_expect(envelope, bytes))

    def _ping(self, data: object) -> bytes:
        return bytes(_expect(data, bytes))

    def _info(self, _arg: object) -> bytes:
        modules, libraries = loaded_modules()
        return cbor.encode(
            {
                "pid": os.getpid(),
                "key_id": self.enclave.key_id,
                "tee": self.attester.tee,
                "attestation": self.token,
                "functions": sorted(self.enclave.functions()),
                "modules": modules,
                "libraries": libraries,
            }
        )

    def _evidence(self, arg: object) -> bytes:
        """Evidence binding this enclave's keys to the verifier's nonce, and the binding."""
        nonce: bytes = _expect(arg, bytes)
        if len(nonce) != NONCE_SIZE:
            raise MalformedMessage("verifier nonce has the wrong length")
        evidence = self.attester.evidence(self.enclave.report_data(nonce))
        binding = self.enclave.binding.to_bytes()
        return cbor.encode({"tee": self.attester.tee, "evidence": evidence, "binding": binding})

    def _attested(self, token: object) -> bytes:
        self.token = _expect(token, str)
        self.enclave.set_attestation(self.token)
        return b""

    def _time_request(self, _arg: object) -> bytes:
        return self.enclave.clock.request()

    def _time_anchor(self, document: object) -> bytes:
        self.enclave.clock.anchor(_expect(document, bytes))
        return b""

    def _key_request(self, arg: object) -> bytes:
        m = cbor.check_map(arg, {"fn": str, "digest": bytes})
        return self.enclave.key_request(m["fn"], m["digest"])

    def _install(self, arg: object) -> bytes:
        m = cbor.check_map(arg, {"bundle": bytes, "grant": bytes})
        start = time.perf_counter()
        self.enclave.install(m["bundle"], m["grant"])
        return cbor.encode({"install_ms": (time.perf_counter() - start) * 1000})

"""The enclave runtime: its keys, evidence binding, key provisioning, invoke, receipts.

Everything the host hands in arrives as bytes and is verified here: key
grants against the KMS key bound into this enclave's evidence, bundles
opened with the grant's code key and checked against the digest and signer
in the KMS-signed function record, requests
by opening them with the function's private key. To the host, every
failure is a `Refused` (or a sealed function error); nothing else leaks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from veil.trusted.bundle import Bundle, SealedBundle
from veil.trusted.clock import TrustedClock, os_monotonic_ms
from veil.trusted.crypto import hazmat, recipes
from veil.trusted.crypto.signing import SigningKey, VerifyKey
from veil.trusted.errors import FunctionError, MessageTooLarge, NotFound, Refused
from veil.trusted.replay import ReplayWindow
from veil.trusted.sandbox.api import Sandbox
from veil.trusted.sandbox.engine import SandboxEngine
from veil.trusted.sandbox.loader import load_sandbox
from veil.trusted.wire import envelope
from veil.trusted.wire.binding import EnclaveBinding
from veil.trusted.wire.receipt import Receipt
from veil.trusted.wire.records import FunctionRecord, GrantedKeys, KeyGrant, KeyRequest, grant_info

GRANT_SUITE = hazmat.Suite.PQ_HYBRID
"""Key grants carry long-lived function keys: seal them post-quantum."""


class UnknownFunction(NotFound):
    """A request for a function this enclave holds no keys for (misrouted by the host)."""

    public_message = "no such function in this enclave"


class GrantRefused(Refused):
    """A key grant for another enclave, or whose keys do not match its function record."""

    public_message = "key grant refused"


class StaleVersion(Refused):
    """A request sealed to another version of the function than this enclave holds."""

    public_message = "request is for another version of this function"


class RollbackRefused(Refused):
    """A grant for an older version than this enclave holds, or for the same one with other code."""

    public_message = "grant is for an older version of this function"


class GrantExpired(Refused):
    """A key grant past its KMS-set expiry, at install or serve: the host must get a fresh one."""

    public_message = "key grant has expired"


class WrongEnclave(Refused):
    """A request sealed for another enclave: the host routed it here, perhaps to run it twice."""

    public_message = "request is for another enclave"


class NotAttested(Refused):
    """The enclave was asked to serve before the host installed its attestation result."""

    public_message = "enclave is not attested yet"


@dataclass
class LoadedFunction:
    record: FunctionRecord
    bundle: Bundle
    key: hazmat.HpkePrivateKey
    sandbox: Sandbox
    """Holds the function's secrets too (`sandbox.variables`), for its guest to read."""
    expires_ms: int
    log_key: bytes
    lock: threading.Lock = field(default_factory=threading.Lock)


class Enclave:
    """One TEE instance. Its private keys never leave this object."""

    def __init__(
        self,
        kms_key: VerifyKey,
        *,
        monotonic_ms: Callable[[], int] = os_monotonic_ms,
        engine: SandboxEngine | None = None,
    ) -> None:
        self._kms_key = kms_key
        self._sign = SigningKey.generate()
        self.key_id = self._sign.public.key_id  # named in requests (`WrongEnclave`) and receipts
        self._hpke = hazmat.HpkePrivateKey.generate(GRANT_SUITE)
        self.clock = TrustedClock(kms_key, monotonic_ms)  # the host owns `monotonic_ms`
        self._engine = engine or SandboxEngine()
        self._functions: dict[str, LoadedFunction] = {}
        self._replay = ReplayWindow()  # one per enclave, not per install: a re-install keeps it
        self._attestation: str | None = None
        self.binding = EnclaveBinding(
            self._sign.public.raw, GRANT_SUITE, self._hpke.public_bytes, kms_key.raw
        )

    def report_data(self, nonce: bytes) -> bytes:
        """What the evidence must carry: the hash of this enclave's binding and the nonce."""
        return self.binding.report_data(nonce)

    def set_attestation(self, token: str) -> None:
        """Kept unchecked: a bad token only gets receipts refused, which dropping them does too."""
        self._attestation = token

    def key_request(self, function: str, digest: bytes) -> bytes:
        if self._attestation is None:
            raise NotAttested("enclave has no attestation result yet")
        return KeyRequest(function, digest, self._attestation).to_bytes()

    def install(self, sealed_bundle: bytes, grant: bytes) -> FunctionRecord:
        """Verify a key grant, open and verify its bundle, then load the function's sandbox.

        Never a lower version than the one loaded; the same one only extends its grant and,
        if newer than the last, replaces its secrets (rotation without a redeploy)."""
        g = KeyGrant.verify(grant, self._kms_key)
        if g.enclave_key_id != self.key_id:
            raise GrantRefused("key grant is for another enclave")
        if g.expires_ms <= self._now_ms():
            raise GrantExpired("key grant has expired")
        record = FunctionRecord.verify(g.record, self._kms_key)
        info = grant_info(record.name, record.digest, record.version, self.key_id)
        old = self._functions.get(record.name)
        if old is not None and old.record.version >= record.version:
            if (old.record.version, old.record.digest) != (record.version, record.digest):
                raise RollbackRefused("grant is for an older version than this enclave holds")
            if g.expires_ms >= old.expires_ms:  # not older than the last: the KMS's secrets now
                keys = GrantedKeys.from_bytes(recipes.open_grant(self._hpke, g.sealed, info))
                old.expires_ms, old.sandbox.variables.secrets = g.expires_ms, keys.secrets
            return old.record
        keys = GrantedKeys.from_bytes(recipes.open_grant(self._hpke, g.sealed, info))
        bundle = SealedBundle.from_bytes(sealed_bundle).open(
            keys.code_key, digest=record.digest, signer=VerifyKey(record.signer)
        )
        names = (bundle.manifest.name, f"{bundle.manifest.name}@{record.version}")  # NAME@N pins
        if record.name not in names or bundle.manifest.suite != record.suite.value:
            raise GrantRefused("bundle manifest does not match its function record")
        key = hazmat.HpkePrivateKey(record.suite, keys.private_key)
        if key.public_bytes != record.public_key:
            raise GrantRefused("granted key does not match the function record")
        sandbox = load_sandbox(self._engine, bundle)
        sandbox.variables.secrets = keys.secrets
        loaded = LoadedFunction(record, bundle, key, sandbox, g.expires_ms, keys.log_key)
        self._functions[record.name] = loaded
        if old is not None:
            old.sandbox.close()
        return record

    def _now_ms(self) -> int:
        """Trusted time: for deadlines, the replay window, grants. Never the wall clock."""
        return self.clock.now_ms()

    def functions(self) -> dict[str, FunctionRecord]:
        return {name: f.record for name, f in self._functions.items()}

    def handle(self, request: bytes) -> bytes:
        """Serve one sealed request; raise `Refused` if it must not be served at all."""
        if self._attestation is None:
            raise NotAttested("enclave has no attestation result yet")
        env = envelope.Envelope.from_bytes(request)
        if env.meta.enclave != self.key_id:
            raise WrongEnclave("request is for another enclave")
        fn = self._functions.get(env.meta.function)
        if fn is None:
            raise UnknownFunction("no such function in this enclave")
        if (env.meta.digest, env.meta.version) != (fn.record.digest, fn.record.version):
            raise StaleVersion("request is for another version of this function")
        if fn.expires_ms <= self._now_ms():
            raise GrantExpired("key grant has expired")
        payload = envelope.open_request(fn.key, env)
        with fn.lock:
            self._replay.admit(env.meta.request_id, env.meta.deadline_ms, self._now_ms())
            result = self._run(fn, payload.input)
            snapshot = fn.sandbox.snapshot_hash
        rh, rid, served = envelope.request_hash(request), env.meta.request_id, self.clock.read_ms()
        sealed = envelope.seal_result(payload.reply_key, rh, result)
        receipt = Receipt(
            function=fn.record.name,
            request_id=rid,
            request_hash=rh,
            response_hash=envelope.response_hash(sealed),
            bundle_digest=fn.record.digest,
            snapshot_hash=snapshot,
            enclave_key_id=self.key_id,
            ok=result.ok,
            served_ms=served,
        ).sign(self._sign)
        # what it printed, for the tenant only: none if nothing was, or the grant has no log key
        info = envelope.log_info(fn.record.name, fn.record.version, rid, served, self.key_id)
        log = recipes.seal_log(fn.log_key, result.logs, info) if result.logs and fn.log_key else b""
        return envelope.Response(rid, sealed, receipt, self._attestation, log).to_bytes()

    @staticmethod
    def _run(fn: LoadedFunction, data: bytes) -> envelope.Result:
        try:
            out = fn.sandbox.invoke(data)
        except (FunctionError, MessageTooLarge) as exc:
            return envelope.Result(False, error_kind=type(exc).__name__, error_message=str(exc))
        return envelope.Result(True, out.data, logs=out.logs)

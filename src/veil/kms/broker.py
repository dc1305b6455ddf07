"""The key broker: registers tenants and functions, releases keys to attested enclaves.

A function's HPKE private key is created here and leaves only inside a key
grant: sealed to the HPKE key of one enclave whose attestation result (a)
is signed by a verifier this KMS trusts, (b) binds this KMS's key, (c)
satisfies the function's policy, and whose request names the registered
bundle digest. The deploy's code key and the function's secrets arrive
sealed to this KMS's seal key (`veil.registration`) and leave the same way.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Final

from veil.attestation.policy import Policy
from veil.attestation.result import verify_token
from veil.kms.errors import (
    DigestNotRegistered,
    NamespaceViolation,
    SimRefusedInProduction,
    StaleRegistration,
    UnknownFunctionName,
    UnknownTenant,
    VersionNotRetained,
    WrongKms,
)
from veil.kms.secrets import SecretKeeper
from veil.kms.store import FunctionRow, KmsStore
from veil.registration import (
    MAX_REGISTRATION,
    SEAL_SUITE,
    RetainedVersion,
    SealedPart,
    SealKey,
    VersionList,
    open_registration,
    open_removal,
    split_pinned,
)
from veil.trusted import clock
from veil.trusted.crypto import hazmat, recipes
from veil.trusted.crypto.signing import SigningKey, VerifyKey
from veil.trusted.errors import MalformedMessage
from veil.trusted.wire import cbor, signed
from veil.trusted.wire.records import FunctionRecord, GrantedKeys, KeyGrant, KeyRequest, grant_info

REGISTRATION_WINDOW_US: Final = 5 * 60 * 1_000_000
DEFAULT_RETAIN: Final = 5
"""Versions of a function kept invocable as `NAME@N` (the current one included)."""
log = logging.getLogger("veil.kms")


class KeyBroker:
    def __init__(
        self,
        store: KmsStore,
        verifier_keys: Iterable[VerifyKey],
        *,
        production: bool = False,
        clock: Callable[[], float] = time.time,
        record_validity_s: float = 120.0,
        grant_ttl_s: float = 300.0,
        retain: int = DEFAULT_RETAIN,
    ) -> None:
        if retain < 1:
            raise ValueError("retain at least the current version")
        self.retain = retain
        """Versions kept per function; older ones lose their keys, so no grant or record."""
        self._store = store
        self._verifier_keys = list(verifier_keys)
        self.production = production
        self._clock = clock
        self.record_validity_ms = int(record_validity_s * 1000)
        """How long a function record is valid; it is re-signed when half of that is left."""
        self.grant_ttl_ms = int(grant_ttl_s * 1000)
        """How long a key grant is valid: the longest a host can hold back a redeploy."""
        self._records: dict[str, tuple[bytes, int]] = {}
        """Each function's current signed record and when to re-sign it (ms)."""
        self._lock = threading.Lock()
        raw = store.identity()
        if raw is None:
            self._key = SigningKey.generate()
            store.set_identity(self._key.to_bytes())
        else:
            self._key = SigningKey.from_bytes(raw)
        sealed = store.seal_key()
        if sealed is None:
            self._seal = hazmat.HpkePrivateKey.generate(SEAL_SUITE)
            store.set_seal_key(self._seal.to_bytes())
        else:
            self._seal = hazmat.HpkePrivateKey(SEAL_SUITE, sealed)
        self.seal_key = SealKey.signed(self._seal, self._key)
        """The key tenants seal registrations to (code keys, secrets); published, pinned."""
        self.secrets = SecretKeeper(store, self._seal, self._tenant_key, clock)
        """`veil secret set/rm/ls`: the versioned secrets every grant carries."""

    @property
    def public_key(self) -> VerifyKey:
        return self._key.public

    def trust_verifier(self, key: VerifyKey) -> None:
        if key not in self._verifier_keys:
            self._verifier_keys.append(key)

    def register_tenant(self, tenant: str, key: VerifyKey) -> None:
        if not tenant or "/" in tenant or len(tenant) > 64:
            raise ValueError("tenant ids are 1-64 characters without '/'")
        self._store.add_tenant(tenant, key.raw)

    def register_function(self, registration: bytes) -> bytes:
        """Verify a tenant-signed registration; return the signed function record.

        Every version gets a key pair of its own (the old one is dropped, no grace period), so
        a request sealed to an old record cannot open in an enclave holding the new version.
        """
        reg = open_registration(registration, tenant_key=self._tenant_key, seal_key=self._seal)
        if not reg.name.startswith(reg.tenant + "/"):
            raise NamespaceViolation("function names must start with the tenant id and '/'")
        if "@" in reg.name:
            raise NamespaceViolation("function names may not contain '@' (it pins a version)")
        policy = reg.policy
        if self.production and policy.allow_sim:
            raise SimRefusedInProduction("a production KMS refuses policies that accept sim")
        for warning in policy.warnings():
            log.warning("function %s: %s", reg.name, warning)
        with self._lock:
            last_version = self._check_newer(reg.name, reg.issued_us)
            row = FunctionRow(
                reg.name,
                reg.tenant,
                reg.digest,
                cbor.encode(policy.to_obj()),
                reg.suite.value,
                hazmat.HpkePrivateKey.generate(reg.suite).to_bytes(),
                SealedPart(reg.code_key, reg.secrets, reg.log_key).to_bytes(),
                b"",
                last_version + 1,
                reg.issued_us,
            )
            record = self._sign_record(row, self._now_ms())
            self._store.put_function(dataclasses.replace(row, record=record), retain=self.retain)
            self.secrets.from_deploy(reg.name, reg.secrets, reg.issued_us)
            return record

    def _check_newer(self, name: str, issued_us: int) -> int:
        """The function's last version (0 if none); `StaleRegistration` unless `issued_us`
        is in the window and newer than its registration or removal in force."""
        now_us = int(self._clock() * 1_000_000)
        if abs(now_us - issued_us) > REGISTRATION_WINDOW_US:
            raise StaleRegistration("registration is outside the KMS's time window")
        old, removed = self._store.function(name), self._store.removed(name)
        last = (old.version, old.issued_us) if old is not None else removed or (0, 0)
        if issued_us <= max(last[1], removed[1] if removed else 0):
            raise StaleRegistration("registration is not newer than the one in force")
        return last[0]

    def remove_function(self, removal: bytes) -> None:
        """Delete a function on its tenant's signed word: every version's keys and records."""
        rm = open_removal(removal, tenant_key=self._tenant_key)
        if not rm.name.startswith(rm.tenant + "/"):
            raise NamespaceViolation("function names must start with the tenant id and '/'")
        with self._lock:
            if self._store.function(rm.name) is None:
                self._check_newer(rm.name, rm.issued_us)  # a replay: StaleRegistration
                raise UnknownFunctionName(f"function {rm.name!r} is not registered")
            version = self._check_newer(rm.name, rm.issued_us)
            self._store.remove_function(rm.name, version, rm.issued_us)
            for cached in [n for n in self._records if split_pinned(n)[0] == rm.name]:
                del self._records[cached]
        log.info("removed %s (last version %d)", rm.name, version)

    def versions(self, name: str) -> bytes:
        """The signed list of `name`'s retained versions, valid as long as a record is."""
        with self._lock:
            row = self._store.function(name)
            if row is None:
                raise UnknownFunctionName(f"function {name!r} is not registered")
            kept = [RetainedVersion(*v) for v in self._store.versions(name)]
        now = self._now_ms()
        listed = VersionList(name, row.version, tuple(kept), now, now + self.record_validity_ms)
        return listed.sign(self._key)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _sign_record(self, row: FunctionRow, now_ms: int) -> bytes:
        """The row's record, valid from `now_ms` for the record validity; remembered for GETs."""
        suite = hazmat.parse_suite(row.suite)
        record = FunctionRecord(
            row.name,
            row.tenant,
            self._store.tenant_key(row.tenant) or b"",
            row.digest,
            suite,
            hazmat.HpkePrivateKey(suite, row.private_key).public_bytes,
            Policy.from_obj(cbor.decode(row.policy, limit=MAX_REGISTRATION)).digest(),
            row.version,
            now_ms,
            now_ms + self.record_validity_ms,
        ).sign(self._key)
        self._records[row.name] = (record, now_ms + self.record_validity_ms // 2)
        return record

    def _tenant_key(self, tenant: str) -> VerifyKey:
        raw = self._store.tenant_key(tenant)
        if raw is None:
            raise UnknownTenant(f"tenant {tenant!r} is not registered")
        return VerifyKey(raw)

    def function_record(self, name: str) -> bytes:
        """The current record, re-signed once less than half its validity is left: clients
        refuse expired records, so a host cannot keep serving an old one past its validity."""
        return self._current(name)[0]

    def _current(self, name: str) -> tuple[bytes, FunctionRow]:
        """The function's row and its current record, read together (a deploy cannot split them)."""
        with self._lock:
            row = self._row(name)
            cached = self._records.get(name)
            now = self._now_ms()
            if cached is not None and now < cached[1]:
                return cached[0], row
            fresh = cached is None and row.record  # a pinned version's row keeps no record
            if fresh and (kept := self._still_fresh(row.record, now)) is not None:
                return kept, row
            record = self._sign_record(row, now)
            self._store.set_record(name, record)
            return record, row

    def _row(self, name: str) -> FunctionRow:
        """The row of `name`; for `base@N`, retained version N as a function of its own."""
        base, version = split_pinned(name)
        if version is None:
            row = self._store.function(name)
            if row is None:
                raise UnknownFunctionName(f"function {name!r} is not registered")
            return row
        row = self._store.version(base, version)
        if row is None:
            raise VersionNotRetained(f"{name} is not a retained version of a registered function")
        return row

    def _secrets_of(self, name: str) -> dict[str, bytes]:
        """The function's current secrets; a pinned version (`base@N`) gets its function's, so a
        `veil secret set` reaches old code too (the secrets are the tenant's, not the code's)."""
        return self.secrets.current(split_pinned(name)[0])

    def _still_fresh(self, stored: bytes, now_ms: int) -> bytes | None:
        """`stored` (after a restart) if it has more than half its validity left."""
        try:
            record = FunctionRecord.verify(stored, self._key.public)
        except MalformedMessage:  # a record from before records had a validity
            return None
        refresh_at = record.issued_ms + (record.expires_ms - record.issued_ms) // 2
        if now_ms >= refresh_at:
            return None
        self._records[record.name] = (stored, refresh_at)
        return stored

    def function_names(self) -> list[str]:
        return self._store.function_names()

    def policy(self, name: str) -> Policy:
        row = self._store.function(name)
        if row is None:
            raise UnknownFunctionName(f"function {name!r} is not registered")
        return Policy.from_obj(cbor.decode(row.policy, limit=MAX_REGISTRATION))

    def time_anchor(self, nonce: bytes) -> bytes:
        """This KMS's clock, signed for one enclave's nonce: the enclave's trusted time.

        Answered to anyone: the time is no secret, and the nonce binds it to
        the one enclave that issued it, once.
        """
        if len(nonce) != clock.NONCE_SIZE:
            raise MalformedMessage("clock nonce has the wrong length")
        body = {"nonce": nonce, "time_ms": int(self._clock() * 1000)}
        return signed.sign_document(self._key, clock.CONTEXT, body)

    def release(self, key_request: bytes) -> bytes:
        """A key grant for the attested enclave named in `key_request`, or a refusal."""
        req = KeyRequest.from_bytes(key_request)
        result = verify_token(req.attestation, self._verifier_keys, now=self._clock())
        if result.binding.kms_key != self._key.public.raw:
            raise WrongKms("enclave trusts another KMS")
        record, row = self._current(req.function)
        if row.digest != req.digest:
            raise DigestNotRegistered("bundle digest is not registered for this function")
        Policy.from_obj(cbor.decode(row.policy, limit=MAX_REGISTRATION)).check(result)
        part = SealedPart.from_bytes(row.secrets)
        enclave_id = result.enclave_key.key_id
        sealed = recipes.seal_grant(
            result.binding.hpke_suite,
            result.binding.hpke_key,
            GrantedKeys(
                row.private_key, self._secrets_of(row.name), part.code_key, part.log_key
            ).to_bytes(),
            grant_info(row.name, row.digest, row.version, enclave_id),
        )
        log.info("released keys of %s to enclave %s", row.name, enclave_id.hex()[:16])
        expires = self._now_ms() + self.grant_ttl_ms
        return KeyGrant(record, enclave_id, sealed, expires).sign(self._key)

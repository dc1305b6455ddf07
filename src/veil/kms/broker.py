"""The key broker: registers tenants and functions, releases keys to attested enclaves.

A function's HPKE private key is created here and leaves only inside a key
grant: sealed to the HPKE key of one enclave whose attestation result (a)
is signed by a verifier this KMS trusts, (b) binds this KMS's key, (c)
satisfies the function's policy, and whose request names the registered
bundle digest. The deploy's code key and the function's secrets arrive
sealed to this KMS's seal key (`veil.registration`) and leave the same way.
"""

from __future__ import annotations

import logging
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
    WrongKms,
)
from veil.kms.store import FunctionRow, KmsStore
from veil.registration import (
    MAX_REGISTRATION,
    SEAL_SUITE,
    SealedPart,
    SealKey,
    open_registration,
)
from veil.trusted.crypto import hazmat, recipes
from veil.trusted.crypto.signing import SigningKey, VerifyKey
from veil.trusted.wire import cbor
from veil.trusted.wire.records import FunctionRecord, GrantedKeys, KeyGrant, KeyRequest, grant_info

REGISTRATION_WINDOW_US: Final = 5 * 60 * 1_000_000
log = logging.getLogger("veil.kms")


class KeyBroker:
    def __init__(
        self,
        store: KmsStore,
        verifier_keys: Iterable[VerifyKey],
        *,
        production: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._verifier_keys = list(verifier_keys)
        self.production = production
        self._clock = clock
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
        """Verify a tenant-signed registration; return the signed function record."""
        reg = open_registration(registration, tenant_key=self._tenant_key, seal_key=self._seal)
        if not reg.name.startswith(reg.tenant + "/"):
            raise NamespaceViolation("function names must start with the tenant id and '/'")
        policy = reg.policy
        if self.production and policy.allow_sim:
            raise SimRefusedInProduction("a production KMS refuses policies that accept sim")
        for warning in policy.warnings():
            log.warning("function %s: %s", reg.name, warning)
        old = self._store.function(reg.name)
        now_us = int(self._clock() * 1_000_000)
        if abs(now_us - reg.issued_us) > REGISTRATION_WINDOW_US:
            raise StaleRegistration("registration is outside the KMS's time window")
        if old is not None and reg.issued_us <= old.issued_us:
            raise StaleRegistration("registration is not newer than the one in force")
        if old is not None and old.suite == reg.suite.value:
            key = hazmat.HpkePrivateKey(reg.suite, old.private_key)
        else:
            key = hazmat.HpkePrivateKey.generate(reg.suite)
        version = 1 if old is None else old.version + 1
        record = FunctionRecord(
            reg.name,
            reg.tenant,
            self._store.tenant_key(reg.tenant) or b"",
            reg.digest,
            reg.suite,
            key.public_bytes,
            policy.digest(),
            version,
        ).sign(self._key)
        self._store.put_function(
            FunctionRow(
                reg.name,
                reg.tenant,
                reg.digest,
                cbor.encode(policy.to_obj()),
                reg.suite.value,
                key.to_bytes(),
                SealedPart(reg.code_key, reg.secrets).to_bytes(),
                record,
                version,
                reg.issued_us,
            )
        )
        return record

    def _tenant_key(self, tenant: str) -> VerifyKey:
        raw = self._store.tenant_key(tenant)
        if raw is None:
            raise UnknownTenant(f"tenant {tenant!r} is not registered")
        return VerifyKey(raw)

    def function_record(self, name: str) -> bytes:
        row = self._store.function(name)
        if row is None:
            raise UnknownFunctionName(f"function {name!r} is not registered")
        return row.record

    def function_names(self) -> list[str]:
        return self._store.function_names()

    def policy(self, name: str) -> Policy:
        row = self._store.function(name)
        if row is None:
            raise UnknownFunctionName(f"function {name!r} is not registered")
        return Policy.from_obj(cbor.decode(row.policy, limit=MAX_REGISTRATION))

    def release(self, key_request: bytes) -> bytes:
        """A key grant for the attested enclave named in `key_request`, or a refusal."""
        req = KeyRequest.from_bytes(key_request)
        result = verify_token(req.attestation, self._verifier_keys, now=self._clock())
        if result.binding.kms_key != self._key.public.raw:
            raise WrongKms("enclave trusts another KMS")
        row = self._store.function(req.function)
        if row is None:
            raise UnknownFunctionName("function is not registered")
        if row.digest != req.digest:
            raise DigestNotRegistered("bundle digest is not registered for this function")
        Policy.from_obj(cbor.decode(row.policy, limit=MAX_REGISTRATION)).check(result)
        part = SealedPart.from_bytes(row.secrets)
        enclave_id = result.enclave_key.key_id
        sealed = recipes.seal_grant(
            result.binding.hpke_suite,
            result.binding.hpke_key,
            GrantedKeys(row.private_key, part.secrets, part.code_key).to_bytes(),
            grant_info(row.name, row.digest, enclave_id),
        )
        log.info("released keys of %s to enclave %s", row.name, enclave_id.hex()[:16])
        return KeyGrant(row.record, enclave_id, sealed).sign(self._key)

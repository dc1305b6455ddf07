"""`veil secret set/rm/ls` at the KMS: tenant-signed, sealed, versioned, never replayed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import echo_bundle
from veil.kms.errors import NamespaceViolation, StaleSecretWrite, UnknownFunctionName
from veil.secret_request import SecretList, SecretWrite, value_info
from veil.trusted.crypto import recipes
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.enclave import Enclave
from veil.trusted.errors import BadSignature, DecryptionFailed, MalformedMessage
from veil.trusted.wire import cbor, signed
from veil.trusted.wire.records import GrantedKeys, KeyGrant, grant_info
from veil.wiring.direct import Deployed, DirectPlatform

FN = "acme/echo"
MINUTE_US = 60 * 1_000_000


def write(
    platform: DirectPlatform,
    name: str,
    value: bytes | None,
    *,
    key: SigningKey | None = None,
    tenant: str = "acme",
    function: str = FN,
    issued_us: int | None = None,
) -> bytes:
    """A write signed by the platform's tenant key (or `key`), sealed to its KMS."""
    issued = time.time_ns() // 1000 if issued_us is None else issued_us
    w = SecretWrite(tenant, function, name, value, issued)
    return w.sign(key or platform.tenant_key, platform.kms.seal_key)


def granted(platform: DirectPlatform, deployed: Deployed) -> dict[str, bytes]:
    """The secrets a fresh key grant for `deployed` carries, opened as its enclave would."""
    enclave: Enclave = platform.start_enclave()
    record = deployed.record
    grant = KeyGrant.verify(
        platform.kms.release(enclave.key_request(record.name, record.digest)),
        platform.kms.public_key,
    )
    info = grant_info(record.name, record.digest, record.version, enclave.key_id)
    return GrantedKeys.from_bytes(recipes.open_grant(enclave._hpke, grant.sealed, info)).secrets


def listing(platform: DirectPlatform, function: str = FN) -> list[dict[str, object]]:
    query = SecretList("acme", function).sign(platform.tenant_key)
    return [e.to_json() for e in platform.kms.secrets.listing(query)]


def test_a_set_secret_is_in_the_next_grant(platform: DirectPlatform, echo: Deployed) -> None:
    entry = platform.kms.secrets.write(write(platform, "api-token", b"v1-token"))
    assert (entry.name, entry.version, entry.removed) == ("api-token", 1, False)
    assert granted(platform, echo) == {"api-token": b"v1-token"}


def test_each_write_is_a_new_version_and_grants_carry_the_latest(
    platform: DirectPlatform, echo: Deployed
) -> None:
    platform.kms.secrets.write(write(platform, "api-token", b"v1-token"))
    entry = platform.kms.secrets.write(write(platform, "api-token", b"v2-token"))
    assert entry.version == 2
    assert granted(platform, echo) == {"api-token": b"v2-token"}


def test_ls_shows_names_versions_and_times_never_values(
    platform: DirectPlatform, echo: Deployed
) -> None:
    platform.kms.secrets.write(write(platform, "api-token", b"hunter2-value"))
    platform.kms.secrets.write(write(platform, "db.password", b"correct-horse"))
    entries = listing(platform)
    assert [(e["name"], e["version"]) for e in entries] == [("api-token", 1), ("db.password", 1)]
    assert "hunter2" not in repr(entries) and "horse" not in repr(entries)


def test_a_replayed_write_is_refused(platform: DirectPlatform, echo: Deployed) -> None:
    once = write(platform, "api-token", b"v1-token")
    platform.kms.secrets.write(once)
    with pytest.raises(StaleSecretWrite):
        platform.kms.secrets.write(once)


def test_an_older_write_cannot_roll_a_secret_back(platform: DirectPlatform, echo: Deployed) -> None:
    old = write(platform, "api-token", b"old-token")
    platform.kms.secrets.write(write(platform, "api-token", b"new-token"))
    with pytest.raises(StaleSecretWrite):
        platform.kms.secrets.write(old)
    assert granted(platform, echo) == {"api-token": b"new-token"}


def test_a_write_outside_the_time_window_is_refused(
    platform: DirectPlatform, echo: Deployed
) -> None:
    ten_minutes_ago = time.time_ns() // 1000 - 10 * MINUTE_US
    stale = write(platform, "api-token", b"v", issued_us=ten_minutes_ago)
    with pytest.raises(StaleSecretWrite):
        platform.kms.secrets.write(stale)


def test_rm_takes_a_secret_out_of_grants_and_a_replayed_set_stays_refused(
    platform: DirectPlatform, echo: Deployed
) -> None:
    before = write(platform, "api-token", b"v1-token")
    platform.kms.secrets.write(before)
    entry = platform.kms.secrets.write(write(platform, "api-token", None))
    assert (entry.version, entry.removed) == (2, True)
    assert granted(platform, echo) == {}
    assert listing(platform)[0]["removed"] is True
    with pytest.raises(StaleSecretWrite):
        platform.kms.secrets.write(before)


def test_another_tenant_cannot_write_or_list_our_secrets(
    platform: DirectPlatform, echo: Deployed
) -> None:
    rival = SigningKey.generate()
    platform.kms.register_tenant("rival", rival.public)
    with pytest.raises(NamespaceViolation):
        platform.kms.secrets.write(write(platform, "api-token", b"x", key=rival, tenant="rival"))
    with pytest.raises(BadSignature):
        platform.kms.secrets.write(write(platform, "api-token", b"x", key=rival))
    with pytest.raises(NamespaceViolation):
        platform.kms.secrets.listing(SecretList("rival", FN).sign(rival))
    with pytest.raises(BadSignature):
        platform.kms.secrets.listing(SecretList("acme", FN).sign(rival))


def test_a_secret_for_a_function_not_registered_is_refused(platform: DirectPlatform) -> None:
    with pytest.raises(UnknownFunctionName):
        platform.kms.secrets.write(write(platform, "api-token", b"x", function="acme/nope"))


def test_a_sealed_value_moved_to_another_secret_does_not_open(
    platform: DirectPlatform, echo: Deployed
) -> None:
    body, _sig = signed.split_document(write(platform, "api-token", b"v1"), limit=1 << 20)
    fields = cbor.decode(body, limit=1 << 20)
    moved = signed.sign_document(
        platform.tenant_key, b"veil/secret-write/v1", {**fields, "name": "other-name"}
    )
    with pytest.raises(DecryptionFailed):
        platform.kms.secrets.write(moved)
    assert value_info("acme", FN, "a", 1) != value_info("acme", FN, "b", 1)


@pytest.mark.parametrize("name", ["API_TOKEN", "", "a" * 65, "has space", "-lead"])
def test_a_name_that_is_not_a_variable_name_is_malformed(
    platform: DirectPlatform, echo: Deployed, name: str
) -> None:
    with pytest.raises(MalformedMessage):
        platform.kms.secrets.write(write(platform, name, b"x"))


def test_deploy_secrets_are_versioned_and_a_redeploy_keeps_set_ones(
    platform: DirectPlatform,
) -> None:
    platform.deploy(echo_bundle(), secrets={"from-deploy": b"d1"})
    platform.kms.secrets.write(write(platform, "api-token", b"set-1"))
    again = platform.deploy(echo_bundle(), secrets={"from-deploy": b"d2"})
    versions = {e["name"]: e["version"] for e in listing(platform)}
    assert versions == {"api-token": 1, "from-deploy": 2}
    assert granted(platform, again) == {"api-token": b"set-1", "from-deploy": b"d2"}


def test_secret_values_are_not_stored_in_the_clear(tmp_path: Path) -> None:
    platform = DirectPlatform(tmp_path)
    platform.deploy(echo_bundle())
    platform.kms.secrets.write(write(platform, "api-token", b"hunter2-very-secret"))
    platform.kms._store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("kms.sqlite3*"))
    assert b"hunter2-very-secret" not in raw

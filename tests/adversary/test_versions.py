"""Classes 1 and 2, played by `HostileHost`: redirecting a client to another function or
version's record, and rolling a function back.

Each row: the attack where the host carries or keeps bytes, the typed error
expected, then the same enclave serving an honest request afterwards, and the
attacked request's secret input in nothing the host carried or stored. One
worker (`max_workers=1`), so "the same enclave" is the one that was attacked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adversary.host import HostileHost, Mutation, flip_bit, replace
from tests.conftest import echo_bundle
from veil.client.errors import GatewayError
from veil.client.records import RecordMismatch, RecordRolledBack, StaleRecord
from veil.client.sdk import Client
from veil.host.pool import PoolConfig
from veil.kms.errors import VersionNotRetained
from veil.samples import wasm
from veil.trusted.bundle import Bundle, Manifest
from veil.trusted.enclave import GrantExpired, RollbackRefused, StaleVersion
from veil.trusted.errors import VeilError
from veil.trusted.wire.records import FunctionRecord
from veil.wiring.embedded import EmbeddedPlatform

SECRET = b"the secret input of the attacked request"
NAME = "acme/echo"
GET = f"/v1/functions/{NAME}"
"""The record's path; taps match by prefix, so rules on it use `record_answer`."""
DEPLOY = "/v1/functions"
INVOKE = f"/v1/invoke/{NAME}"


def v2_bundle() -> Bundle:
    """The same function with other code: its next version."""
    return echo_bundle(capture_logs=True)


def hostile(platform: EmbeddedPlatform) -> HostileHost:
    return HostileHost(platform, PoolConfig(stem_cells=1, max_workers=1))


@pytest.fixture
def host(trust: EmbeddedPlatform) -> Iterator[HostileHost]:
    with hostile(trust) as hostile_host:
        yield hostile_host


def kms_with(tmp_path: Path, *args: str) -> Iterator[HostileHost]:
    platform = EmbeddedPlatform(tmp_path / "short", trust_args=list(args))
    platform.start_trust()
    platform.register_tenant()
    try:
        with hostile(platform) as hostile_host:
            yield hostile_host
    finally:
        platform.stop()


@pytest.fixture
def short_records(tmp_path: Path) -> Iterator[HostileHost]:
    """Over a KMS whose records are valid for 3 s."""
    yield from kms_with(tmp_path, "--record-validity", "3")


@pytest.fixture
def short_grants(tmp_path: Path) -> Iterator[HostileHost]:
    """Over a KMS whose grants last 2 s."""
    yield from kms_with(tmp_path, "--grant-ttl", "2")


def deploy(host: HostileHost, client: Client, bundle: Bundle) -> tuple[FunctionRecord, bytes]:
    """Deploy through the host; the record, and its bytes as the host carried them."""
    record = host.platform.deploy_bundle(client, bundle)
    return record, host.client_tap.sent(DEPLOY, reply=True)[-1]


def record_answer(substitute: bytes) -> Mutation:
    """Replace a record answer (CBOR), not the JSON enclave set under the same path prefix."""
    return lambda data: data if data.startswith(b"{") else substitute


def record_fetches(host: HostileHost) -> int:
    return sum(1 for m in host.client_tap.log if m.name == GET and not m.reply)


def assert_survives(host: HostileHost) -> None:
    for tap in host.taps():
        tap.clear()
    assert host.serves(NAME) == b"still serving"
    assert not host.saw(SECRET)


def kind(exc: BaseException) -> str:
    return exc.kind if isinstance(exc, GatewayError) else type(exc).__name__


# Class 1: redirect a client to another function (or another version's record).


def test_another_functions_record_swapped_in_at_get_is_refused(host: HostileHost) -> None:
    with host.client() as deployer:
        deploy(host, deployer, echo_bundle())
        _, other = deploy(host, deployer, echo_bundle("acme/other"))
    host.client_tap.rewrite(GET, record_answer(other), reply=True, times=None)
    with host.client() as victim, pytest.raises(RecordMismatch):
        victim.invoke(NAME, SECRET)
    assert_survives(host)


@pytest.mark.parametrize("swapped", ["another function's", "the previous version's"])
def test_a_deploy_answered_with_another_record_is_refused(host: HostileHost, swapped: str) -> None:
    with host.client() as client:
        _, previous = deploy(host, client, echo_bundle())
        _, other = deploy(host, client, echo_bundle("acme/other"))
        answer = other if swapped == "another function's" else previous
        host.client_tap.rewrite(DEPLOY, replace(answer), reply=True)
        with pytest.raises(RecordMismatch):
            host.platform.deploy_bundle(client, v2_bundle())
        host.client_tap.clear()
        assert client.invoke(NAME, SECRET).output == SECRET  # sealed to the honest record
    assert_survives(host)


def test_an_older_record_served_after_a_newer_one_is_refused(host: HostileHost) -> None:
    with host.client() as client:
        _, v1 = deploy(host, client, echo_bundle())
        deploy(host, client, v2_bundle())
        host.client_tap.rewrite(GET, record_answer(v1), reply=True, times=None)
        with pytest.raises(RecordRolledBack):
            client.function(NAME, refresh=True)
    assert_survives(host)


def test_an_older_record_served_to_a_new_client_gets_its_request_refused_as_stale(
    host: HostileHost,
) -> None:
    """It never saw v2, so it takes v1's (still valid) record; no enclave holds v1 any more."""
    with host.client() as deployer:
        _, v1 = deploy(host, deployer, echo_bundle())
        deploy(host, deployer, v2_bundle())
        assert deployer.invoke(NAME, b"warm on v2").output == b"warm on v2"
    host.client_tap.rewrite(GET, record_answer(v1), reply=True, times=None)
    with host.client() as victim, pytest.raises(StaleVersion):
        victim.invoke(NAME, SECRET)
    assert_survives(host)


def test_a_record_kept_past_its_validity_is_refused(short_records: HostileHost) -> None:
    host = short_records
    with host.client() as client:
        _, kept = deploy(host, client, echo_bundle())
        time.sleep(3.2)  # the record expires; the host keeps answering it
        host.client_tap.rewrite(GET, record_answer(kept), reply=True, times=None)
        with pytest.raises(StaleRecord):
            client.invoke(NAME, SECRET)
        assert record_fetches(host) == 2  # fetched once more, then refused
    assert_survives(host)


# Class 2: roll a function back.


def test_an_old_grant_and_bundle_replayed_to_an_enclave_holding_a_newer_version_are_refused(
    host: HostileHost,
) -> None:
    with host.client() as client:
        v1, _ = deploy(host, client, echo_bundle())
        client.invoke(NAME, b"on v1")
        old_grant = host.trust_tap.sent("release", reply=True)[-1]
        old_bundle = host.registry.bundle(v1.digest)
        v2, _ = deploy(host, client, v2_bundle())
        assert client.invoke(NAME, b"on v2").output == b"on v2"  # the same (only) worker
        new_bundle = host.registry.bundle(v2.digest)
        swap_bundle(host, v2.digest, old_bundle)  # the host owns the registry's storage
        host.trust_tap.rewrite("release", replace(old_grant), reply=True)
        host.dispatcher.deployed(NAME, v2.version + 1)  # and its dispatcher: reload the worker
        with pytest.raises(RollbackRefused):
            client.invoke(NAME, SECRET)
    swap_bundle(host, v2.digest, new_bundle)
    assert_survives(host)


def swap_bundle(host: HostileHost, digest: bytes, data: bytes | None) -> None:
    with host.registry._lock:
        host.registry._db.execute("UPDATE bundles SET data = ? WHERE digest = ?", (data, digest))


def test_an_expired_grant_replayed_at_install_is_refused(short_grants: HostileHost) -> None:
    short_host = short_grants
    kept: list[bytes] = []

    def keep_and_break(grant: bytes) -> bytes:
        kept.append(grant)
        return flip_bit(grant, len(grant) // 2)

    short_host.trust_tap.rewrite("release", keep_and_break, reply=True)
    with short_host.client() as client:
        deploy(short_host, client, echo_bundle())
        with pytest.raises((VeilError, GatewayError)):  # the broken grant is refused
            client.invoke(NAME, b"first")
        time.sleep(2.2)  # the kept grant expires
        short_host.trust_tap.rewrite("release", replace(kept[0]), reply=True)
        with pytest.raises(GrantExpired):
            client.invoke(NAME, SECRET)
    assert_survives(short_host)


def test_an_old_registration_replayed_to_the_gateway_is_refused(host: HostileHost) -> None:
    with host.client() as client:
        deploy(host, client, echo_bundle())
        old_deploy = host.client_tap.sent(DEPLOY)[-1]
        deploy(host, client, v2_bundle())
    answer = host.client_tap.resend(host.url, DEPLOY, old_deploy)
    assert (answer.status_code, answer.json()["error"]) == (403, "StaleRegistration")
    with host.client() as client:
        assert client.function(NAME).version == 2
    assert_survives(host)


def test_an_old_deploy_replayed_with_the_kms_old_answer_is_refused(host: HostileHost) -> None:
    """The host replays v1's deploy and, sitting between gateway and KMS, answers it with
    v1's record instead of relaying the KMS's refusal: the registry refuses to go back, so
    the replay cannot make cold starts load the old bundle."""
    with host.client() as client:
        _, v1 = deploy(host, client, echo_bundle())
        old_deploy = host.client_tap.sent(DEPLOY)[-1]
        v2, _ = deploy(host, client, v2_bundle())
    host.trust_tap.register_function = lambda _registration: v1  # type: ignore[method-assign]
    try:
        answer = host.client_tap.resend(host.url, DEPLOY, old_deploy)
    finally:
        del host.trust_tap.register_function
    assert (answer.status_code, answer.json()["error"]) == (409, "StaleDeploy")
    entry = host.registry.get(NAME)
    assert entry is not None and entry.digest == v2.digest
    assert_survives(host)


def test_a_request_sealed_to_the_old_version_replayed_after_a_redeploy_is_stale(
    host: HostileHost,
) -> None:
    with host.client() as client:
        deploy(host, client, echo_bundle())
        client.invoke(NAME, SECRET)
        sealed_to_v1 = host.client_tap.sent(INVOKE)[-1]
        deploy(host, client, v2_bundle())
        client.invoke(NAME, b"warm on v2")
    answer = host.client_tap.resend(host.url, INVOKE, sealed_to_v1)
    assert (answer.status_code, answer.json()["error"]) == (403, "StaleVersion")
    assert_survives(host)


def test_a_client_still_holding_the_old_record_is_served_by_the_new_version(
    host: HostileHost,
) -> None:
    with host.client() as holder, host.client() as deployer:
        deploy(host, deployer, echo_bundle())
        holder.invoke(NAME, b"caches v1")
        v2, _ = deploy(host, deployer, v2_bundle())
        invocation = holder.invoke(NAME, SECRET)  # StaleVersion, then re-sealed to v2
    assert invocation.output == SECRET
    assert invocation.receipt.bundle_digest == v2.digest
    assert_survives(host)


def hold_back_redeploys(host: HostileHost, monkeypatch: pytest.MonkeyPatch) -> None:
    """The host keeps the old version's enclave warm: it ignores deploys and stale refusals."""

    async def never(*_args: object) -> bool:
        return False

    monkeypatch.setattr(host.dispatcher, "deployed", lambda *_args: None)
    monkeypatch.setattr(host.dispatcher, "_recovered", never)


def test_a_request_for_the_new_version_routed_to_an_enclave_held_on_the_old_is_stale(
    host: HostileHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    with host.client() as client:
        deploy(host, client, echo_bundle())
        client.invoke(NAME, b"warm on v1")
        hold_back_redeploys(host, monkeypatch)
        v2, _ = deploy(host, client, v2_bundle())
        with pytest.raises(StaleVersion):  # re-sealed once to a fresh record, then refused
            client.invoke(NAME, SECRET)
    monkeypatch.undo()
    host.dispatcher.deployed(NAME, v2.version)
    assert_survives(host)


def test_an_enclave_held_on_the_old_version_stops_serving_when_its_grant_expires(
    short_grants: HostileHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound on holding back a redeploy: the grant TTL (renewals get the new version only)."""
    short_host = short_grants
    with short_host.client() as holder, short_host.client() as deployer:
        deploy(short_host, deployer, echo_bundle())
        holder.invoke(NAME, b"caches v1")
        hold_back_redeploys(short_host, monkeypatch)
        v2, _ = deploy(short_host, deployer, v2_bundle())
        time.sleep(2.2)
        with pytest.raises(GrantExpired):
            holder.invoke(NAME, SECRET)
    monkeypatch.undo()
    short_host.dispatcher.deployed(NAME, v2.version)
    assert_survives(short_host)


# Pinned versions, retention, removal (issue 12): `acme/echo@N` is a function of its own.

PINNED = f"{NAME}@1"


def v3_bundle() -> Bundle:
    """Other code again (another manifest version): a third digest."""
    return Bundle(Manifest(NAME, "3"), wasm("echo"))


@pytest.fixture
def short_retention(tmp_path: Path) -> Iterator[HostileHost]:
    """Over a KMS that retains 2 versions, with records valid for 3 s; the host's registry
    keeps its default 5, so it still holds the bundles of versions the KMS pruned."""
    yield from kms_with(tmp_path, "--retain", "2", "--record-validity", "3")


def pinned_record(host: HostileHost, name: str = PINNED) -> bytes:
    """A pinned record, as the host can fetch it from the KMS itself (records are public)."""
    record: bytes = host.trust_tap.inner.function_record(name)
    return record


def test_a_pinned_record_served_for_the_latest_is_refused(host: HostileHost) -> None:
    with host.client() as deployer:
        deploy(host, deployer, echo_bundle())
        deploy(host, deployer, v2_bundle())
    host.client_tap.rewrite(GET, record_answer(pinned_record(host)), reply=True, times=None)
    with host.client() as victim, pytest.raises(RecordMismatch):
        victim.invoke(NAME, SECRET)
    assert_survives(host)


def test_the_latest_record_served_for_a_pinned_version_is_refused(host: HostileHost) -> None:
    with host.client() as deployer:
        deploy(host, deployer, echo_bundle())
        _, latest = deploy(host, deployer, v2_bundle())
    host.client_tap.rewrite(GET, record_answer(latest), reply=True, times=None)
    with host.client() as victim, pytest.raises(RecordMismatch):
        victim.invoke(PINNED, SECRET)
    assert_survives(host)


def test_a_pinned_version_serves_its_own_code(host: HostileHost) -> None:
    """The honest row the attacks above are measured against."""
    with host.client() as client:
        deploy(host, client, echo_bundle())
        deploy(host, client, v2_bundle())
        pinned = client.invoke(PINNED, b"old code")
        assert (pinned.receipt.function, pinned.output) == (PINNED, b"old code")
        assert not pinned.logs  # v1 does not capture logs; v2 does
    assert_survives(host)


def test_a_pruned_version_the_host_still_holds_is_refused_by_the_kms(
    short_retention: HostileHost,
) -> None:
    host = short_retention
    with host.client() as client:
        for bundle in (echo_bundle(), v2_bundle(), v3_bundle()):
            deploy(host, client, bundle)
        assert host.registry.get(PINNED) is not None  # the host kept v1's bundle
        with pytest.raises(GatewayError) as refused:
            client.invoke(PINNED, SECRET)
    assert refused.value.kind == "VersionNotRetained"
    with pytest.raises(VersionNotRetained):
        pinned_record(host)
    assert_survives(host)


def test_a_pinned_record_kept_past_its_prune_expires(short_retention: HostileHost) -> None:
    """The bound: a host that kept v1's pinned record can use it until the record expires.
    Here it answers the gateway's record fetch with it, after the KMS pruned v1."""
    host = short_retention
    with host.client() as client:
        deploy(host, client, echo_bundle())
        deploy(host, client, v2_bundle())
        kept = pinned_record(host)
        deploy(host, client, v3_bundle())  # prunes v1
        time.sleep(3.2)
        host.trust_tap.function_record = lambda _name: kept  # type: ignore[method-assign]
        try:
            with pytest.raises(StaleRecord):
                client.invoke(PINNED, SECRET)
        finally:
            del host.trust_tap.function_record
    assert_survives(host)


def remove(host: HostileHost, client: Client) -> bytes:
    """Remove NAME through the host; the signed removal as the host carried it."""
    client.remove(NAME, tenant=host.platform.tenant, key=host.platform.tenant_key)
    return host.client_tap.sent(REMOVE)[-1]


REMOVE = "/v1/remove"


def test_a_replayed_removal_is_refused(host: HostileHost) -> None:
    with host.client() as client:
        deploy(host, client, echo_bundle())
        removal = remove(host, client)
    answer = host.client_tap.resend(host.url, REMOVE, removal)
    assert (answer.status_code, answer.json()["error"]) == (403, "StaleRegistration")


def test_a_removal_replayed_after_a_redeploy_cannot_remove_it_again(host: HostileHost) -> None:
    with host.client() as client:
        deploy(host, client, echo_bundle())
        removal = remove(host, client)
        deploy(host, client, v2_bundle())
    answer = host.client_tap.resend(host.url, REMOVE, removal)
    assert (answer.status_code, answer.json()["error"]) == (403, "StaleRegistration")
    assert host.registry.get(NAME) is not None
    assert_survives(host)


def test_the_last_deploy_replayed_after_a_removal_cannot_bring_it_back(
    host: HostileHost,
) -> None:
    with host.client() as client:
        deploy(host, client, echo_bundle())
        last_deploy = host.client_tap.sent(DEPLOY)[-1]
        remove(host, client)
    answer = host.client_tap.resend(host.url, DEPLOY, last_deploy)
    assert (answer.status_code, answer.json()["error"]) == (403, "StaleRegistration")
    assert host.registry.get(NAME) is None


def test_a_removed_function_is_refused_even_by_an_enclave_that_held_it(
    host: HostileHost,
) -> None:
    with host.client() as client:
        deploy(host, client, echo_bundle())
        assert client.invoke(NAME, b"warm").output == b"warm"
        remove(host, client)
        with pytest.raises(GatewayError) as refused:
            client.invoke(NAME, SECRET)
    assert refused.value.kind == "UnknownFunctionName"
    assert not [w for w in host.dispatcher.workers.values() if NAME in w.functions]
    assert not host.saw(SECRET)


def test_a_replayed_rollback_registration_is_refused(host: HostileHost) -> None:
    """A rollback is a deploy of old code with a newer registration: replayed after a later
    deploy, it is not newer than the one in force."""
    with host.client() as client:
        deploy(host, client, echo_bundle())
        deploy(host, client, v2_bundle())
        rollback, _ = deploy(host, client, echo_bundle())  # v1's code as v3
        rollback_deploy = host.client_tap.sent(DEPLOY)[-1]
        deploy(host, client, v2_bundle())  # v4
    assert rollback.version == 3
    answer = host.client_tap.resend(host.url, DEPLOY, rollback_deploy)
    assert (answer.status_code, answer.json()["error"]) == (403, "StaleRegistration")
    with host.client() as client:
        assert client.function(NAME).version == 4
    assert_survives(host)

"""The enclave holds one version of each function, never goes back, and honours grant expiry.

Every refusal leaves the enclave serving the version it holds.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from tests.conftest import echo_bundle
from veil.client.invoke import open_response, seal
from veil.trusted.enclave import Enclave, GrantExpired, RollbackRefused, StaleVersion
from veil.trusted.errors import DecryptionFailed
from veil.trusted.replay import ReplayedRequest
from veil.trusted.wire.envelope import Envelope
from veil.trusted.wire.records import FunctionRecord, KeyGrant
from veil.wiring.direct import Deployed, DirectPlatform


def serves(platform: DirectPlatform, enclave: Enclave, deployed: Deployed) -> bytes:
    request = seal(deployed.record, b"still here", enclave=enclave.key_id)
    return open_response(request, enclave.handle(request.envelope), platform.trust).output


def grant(platform: DirectPlatform, enclave: Enclave, deployed: Deployed) -> bytes:
    """What the host relays for a cold start: the KMS's grant of the current version."""
    record = deployed.record
    return platform.kms.release(enclave.key_request(record.name, record.digest))


def redeploy(platform: DirectPlatform) -> Deployed:
    """The same function with other code (so another digest): the next version."""
    return platform.deploy(echo_bundle(capture_logs=True))


def test_a_request_sealed_to_an_older_version_is_refused_as_stale(
    platform: DirectPlatform, echo: Deployed
) -> None:
    v2 = redeploy(platform)
    enclave = platform.start_enclave()
    platform.provision(enclave, v2)
    with pytest.raises(StaleVersion):
        enclave.handle(seal(echo.record, b"x", enclave=enclave.key_id).envelope)
    assert serves(platform, enclave, v2) == b"still here"


def test_a_request_sealed_to_a_newer_version_than_the_enclave_holds_is_refused_as_stale(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    v2 = redeploy(platform)
    with pytest.raises(StaleVersion):
        enclave.handle(seal(v2.record, b"x", enclave=enclave.key_id).envelope)
    assert serves(platform, enclave, echo) == b"still here"


def test_metadata_rewritten_to_the_version_held_does_not_open(
    platform: DirectPlatform, echo: Deployed
) -> None:
    v2 = redeploy(platform)
    enclave = platform.start_enclave()
    platform.provision(enclave, v2)
    env = Envelope.from_bytes(seal(echo.record, b"x", enclave=enclave.key_id).envelope)
    meta = dataclasses.replace(env.meta, digest=v2.record.digest, version=v2.record.version)
    with pytest.raises(DecryptionFailed):
        enclave.handle(Envelope(meta, env.sealed).to_bytes())
    assert serves(platform, enclave, v2) == b"still here"


def test_a_grant_for_an_older_version_is_refused(platform: DirectPlatform, echo: Deployed) -> None:
    enclave = platform.start_enclave()
    old_grant = grant(platform, enclave, echo)
    enclave.install(echo.signed_bundle, old_grant)
    v2 = redeploy(platform)
    platform.provision(enclave, v2)
    with pytest.raises(RollbackRefused):
        enclave.install(echo.signed_bundle, old_grant)
    assert serves(platform, enclave, v2) == b"still here"


def test_a_grant_for_the_same_version_with_other_code_is_refused(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    """Only a KMS that signs two records of one version could do it: the enclave refuses anyway."""
    other = KeyGrant.verify(grant(platform, enclave, echo), platform.kms.public_key)
    record = FunctionRecord.verify(other.record, platform.kms.public_key)
    twin = dataclasses.replace(record, digest=echo_bundle(capture_logs=True).digest)
    forged = dataclasses.replace(other, record=twin.sign(platform.kms._key))
    with pytest.raises(RollbackRefused):
        enclave.install(echo.signed_bundle, forged.sign(platform.kms._key))
    assert serves(platform, enclave, echo) == b"still here"


def test_an_expired_grant_is_refused_at_install(platform: DirectPlatform, echo: Deployed) -> None:
    enclave = platform.start_enclave()
    platform.kms.grant_ttl_ms = 0
    with pytest.raises(GrantExpired):
        enclave.install(echo.signed_bundle, grant(platform, enclave, echo))
    assert enclave.functions() == {}


def test_a_grant_that_expires_while_loaded_stops_the_function_until_a_fresh_one(
    platform: DirectPlatform, echo: Deployed
) -> None:
    enclave = platform.start_enclave()
    platform.kms.grant_ttl_ms = 300
    platform.provision(enclave, echo)
    time.sleep(0.4)
    with pytest.raises(GrantExpired):
        enclave.handle(seal(echo.record, b"x", enclave=enclave.key_id).envelope)
    platform.kms.grant_ttl_ms = 60_000
    platform.provision(enclave, echo)
    assert serves(platform, enclave, echo) == b"still here"


def test_a_grant_for_the_version_held_only_extends_its_expiry(
    platform: DirectPlatform, echo: Deployed
) -> None:
    enclave = platform.start_enclave()
    platform.kms.grant_ttl_ms = 300
    platform.provision(enclave, echo)
    served = seal(echo.record, b"once", enclave=enclave.key_id)
    enclave.handle(served.envelope)
    sandbox = enclave._functions[echo.record.name].sandbox
    platform.kms.grant_ttl_ms = 60_000
    platform.provision(enclave, echo)
    time.sleep(0.4)
    assert enclave._functions[echo.record.name].sandbox is sandbox  # not reloaded
    with pytest.raises(ReplayedRequest):  # and it kept what it had seen
        enclave.handle(served.envelope)
    assert serves(platform, enclave, echo) == b"still here"  # past the first grant's expiry

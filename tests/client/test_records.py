"""The records a client accepts: asked for, not older than seen, not expired, the one deployed."""

from __future__ import annotations

import dataclasses
import time

import pytest

from tests.conftest import echo_bundle
from veil.client.records import RecordBook, RecordMismatch, RecordRolledBack, StaleRecord
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.errors import BadSignature
from veil.wiring.direct import Deployed, DirectPlatform


def book(platform: DirectPlatform, offset_s: float = 0.0) -> RecordBook:
    return RecordBook(platform.kms.public_key, clock=lambda: time.time() + offset_s)


def test_the_record_asked_for_is_accepted_and_cached(
    platform: DirectPlatform, echo: Deployed
) -> None:
    records = book(platform)
    assert records.accept(echo.record_bytes, "acme/echo") == echo.record
    assert records.cached("acme/echo") == echo.record


def test_a_record_not_signed_by_the_pinned_kms_is_refused(platform: DirectPlatform) -> None:
    records = RecordBook(SigningKey.generate().public)
    deployed = platform.deploy(echo_bundle())
    with pytest.raises(BadSignature):
        records.accept(deployed.record_bytes, "acme/echo")


def test_another_functions_record_is_refused(platform: DirectPlatform, echo: Deployed) -> None:
    other = platform.deploy(echo_bundle("acme/other"))
    with pytest.raises(RecordMismatch):
        book(platform).accept(other.record_bytes, "acme/echo")


def test_an_older_version_than_one_seen_is_refused(
    platform: DirectPlatform, echo: Deployed
) -> None:
    records = book(platform)
    v2 = platform.deploy(echo_bundle(capture_logs=True))
    records.accept(v2.record_bytes, "acme/echo")
    with pytest.raises(RecordRolledBack):
        records.accept(echo.record_bytes, "acme/echo")
    assert records.cached("acme/echo") == v2.record


def test_the_same_version_with_other_code_is_refused(
    platform: DirectPlatform, echo: Deployed
) -> None:
    records = book(platform)
    records.accept(echo.record_bytes, "acme/echo")
    twin = dataclasses.replace(echo.record, digest=echo_bundle(capture_logs=True).digest)
    with pytest.raises(RecordRolledBack):
        records.accept(twin.sign(platform.kms._key), "acme/echo")


def test_an_expired_record_is_refused(platform: DirectPlatform, echo: Deployed) -> None:
    with pytest.raises(StaleRecord):
        book(platform, offset_s=121).accept(echo.record_bytes, "acme/echo")


def test_a_cached_record_is_refetched_ten_seconds_before_it_expires(
    platform: DirectPlatform, echo: Deployed
) -> None:
    now = [time.time()]
    records = RecordBook(platform.kms.public_key, clock=lambda: now[0])
    records.accept(echo.record_bytes, "acme/echo")
    now[0] += 109
    assert records.cached("acme/echo") == echo.record
    now[0] += 2
    assert records.cached("acme/echo") is None


def test_a_deploy_answered_with_the_record_of_the_bundle_uploaded_is_accepted(
    platform: DirectPlatform, echo: Deployed
) -> None:
    accepted = book(platform).accept_deployed(
        echo.record_bytes, echo_bundle(), platform.tenant_key.public
    )
    assert accepted == echo.record


@pytest.mark.parametrize("swap", ["name", "digest", "signer"])
def test_a_deploy_answered_with_another_record_is_refused(
    platform: DirectPlatform, echo: Deployed, swap: str
) -> None:
    bundle, signer = echo_bundle(), platform.tenant_key.public
    if swap == "name":
        bundle = echo_bundle("acme/other")
    elif swap == "digest":
        bundle = echo_bundle(capture_logs=True)
    else:
        signer = SigningKey.generate().public
    with pytest.raises(RecordMismatch):
        book(platform).accept_deployed(echo.record_bytes, bundle, signer)

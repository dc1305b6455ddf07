"""The enclave serves on trusted time only: KMS-anchored, read through the host's clock.

Each enclave here reads a host clock the test steps (`HostClock`); the KMS's
clock is the real one, so anchors say the real time.
"""

from __future__ import annotations

import time

import pytest

from tests.adversary.host import HostClock
from tests.trusted.test_service import relay_attestation, relay_time
from veil.client.invoke import open_response, seal
from veil.trusted.clock import VALIDITY_MS, ClockDrift, ClockNotAnchored
from veil.trusted.enclave import Enclave
from veil.trusted.replay import RequestExpired
from veil.trusted.service import EnclaveService
from veil.wiring.direct import Deployed, DirectPlatform


def started(platform: DirectPlatform, deployed: Deployed, clock: HostClock) -> Enclave:
    enclave = platform.start_enclave(monotonic_ms=clock.monotonic_ms)
    platform.provision(enclave, deployed)
    return enclave


def test_an_enclave_that_was_never_anchored_refuses_and_serves_once_it_is(
    platform: DirectPlatform, echo: Deployed
) -> None:
    service = EnclaveService(Enclave(platform.kms.public_key), platform.attester)
    relay_attestation(platform, service)
    platform.provision(service, echo)
    request = seal(echo.record, b"served on trusted time")
    with pytest.raises(ClockNotAnchored):
        service.handle("invoke", request.envelope)
    relay_time(platform, service)
    response = service.handle("invoke", request.envelope)
    assert open_response(request, response, platform.trust).output == b"served on trusted time"


def test_a_host_clock_jumped_past_the_validity_is_refused_then_caught_by_the_next_anchor(
    platform: DirectPlatform, echo: Deployed
) -> None:
    clock = HostClock()
    enclave = started(platform, echo, clock)
    clock.step(VALIDITY_MS + 1)
    request = seal(echo.record, b"served after two anchors", timeout_s=120)
    with pytest.raises(ClockNotAnchored):
        enclave.handle(request.envelope)
    platform.anchor(enclave)  # the KMS saw a second pass, not a minute: the jump shows
    with pytest.raises(ClockDrift):
        enclave.handle(request.envelope)
    platform.anchor(enclave)  # an interval the clock kept honestly
    response = enclave.handle(request.envelope)
    assert open_response(request, response, platform.trust).output == b"served after two anchors"


def test_the_receipt_carries_the_trusted_time_it_was_served_at(
    platform: DirectPlatform, echo: Deployed
) -> None:
    enclave = started(platform, echo, HostClock())
    before = time.time_ns() // 1_000_000
    request = seal(echo.record, b"when")
    invocation = open_response(request, enclave.handle(request.envelope), platform.trust)
    after = time.time_ns() // 1_000_000
    assert before <= invocation.receipt.served_ms <= after + 1_000


def test_a_host_clock_stepped_back_holds_trusted_time_and_one_stepped_on_moves_deadlines(
    platform: DirectPlatform, echo: Deployed
) -> None:
    clock = HostClock()
    enclave = started(platform, echo, clock)
    clock.step(-3_600_000)  # an hour back: trusted time holds at its high-water mark
    request = seal(echo.record, b"x", timeout_s=2)
    assert open_response(request, enclave.handle(request.envelope), platform.trust).ok
    clock.step(3_600_000 + 3_000)  # and 3 s past the deadline: refused, by trusted time
    with pytest.raises(RequestExpired):
        enclave.handle(seal(echo.record, b"y", timeout_s=2).envelope)

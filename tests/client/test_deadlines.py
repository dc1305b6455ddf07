"""The client refuses late responses: arrived after the deadline by its own clock, or served
after it by the enclave's trusted clock (the receipt's `served_ms`)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.adversary.host import HostClock
from tests.conftest import small_limits
from tests.trusted.sandbox.test_reactor import module
from veil.client.invoke import LateResponse, ReceiptInvalid, open_response, seal
from veil.trusted.bundle import Bundle, Manifest
from veil.trusted.enclave import Enclave
from veil.wiring.direct import Deployed, DirectPlatform


def test_a_response_opened_after_its_deadline_is_refused_as_late(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    request = seal(echo.record, b"held back by the host", timeout_s=0.5, enclave=enclave.key_id)
    response = enclave.handle(request.envelope)
    time.sleep(0.6)  # the host held the response until the caller's deadline had passed
    with pytest.raises(LateResponse, match="arrived"):
        open_response(request, response, platform.trust)
    assert issubclass(LateResponse, ReceiptInvalid)


def test_the_same_response_in_time_is_accepted(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed
) -> None:
    request = seal(echo.record, b"on time", timeout_s=5, enclave=enclave.key_id)
    invocation = open_response(request, enclave.handle(request.envelope), platform.trust)
    assert invocation.output == b"on time"
    assert invocation.receipt.served_ms <= request.meta.deadline_ms


def test_a_receipt_saying_the_enclave_served_after_the_deadline_is_refused(
    platform: DirectPlatform,
) -> None:
    spin = Bundle(
        Manifest("acme/spin", "1", limits=small_limits(fuel=10**12, timeout_ms=30_000)),
        module("spin"),
    )
    deployed = platform.deploy(spin)
    clock = HostClock()
    enclave = platform.start_enclave(monotonic_ms=clock.monotonic_ms)
    platform.provision(enclave, deployed)
    request = seal(
        deployed.record, bytes([100]), timeout_s=30, enclave=enclave.key_id
    )  # 100 units: seconds of spinning
    with ThreadPoolExecutor(1) as pool:
        serving = pool.submit(enclave.handle, request.envelope)  # admitted at once ...
        time.sleep(0.5)
        clock.step(40_000)  # ... and while it spins, the host's clock jumps past the deadline
        response = serving.result()
    with pytest.raises(LateResponse, match="served"):  # though it arrives well in time
        open_response(request, response, platform.trust)

"""Issue 10, class 4: the host moves the clock.

The host owns the OS clock every enclave reads. The clock rows run an
in-process enclave (`DirectPlatform`) on a `HostClock` the test steps, with
anchors from the real KMS (whose clock is the real one). A slowed or sped-up
clock and a stepped one look the same to the enclave: at the next anchor,
its local time and the KMS's disagree, so the rows step. The anchor and
late-response rows run on `HostileHost`: real workers, the KMS in its process,
the host's taps between them.

Every row: the typed refusal, the enclave still serves an honest request, and
the attacked request's input never reaches anything the host saw.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from tests.adversary.host import HostClock, HostileHost, replace
from tests.conftest import echo_bundle
from veil.client.invoke import LateResponse, SealedRequest, open_response, seal
from veil.client.sdk import Client
from veil.host.pool import PoolConfig
from veil.trusted import clock
from veil.trusted.clock import ClockDrift
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.enclave import Enclave
from veil.trusted.replay import RequestExpired
from veil.trusted.wire import signed
from veil.wiring.direct import Deployed, DirectPlatform
from veil.wiring.embedded import EmbeddedPlatform

SECRET = b"the secret input of the attacked request"
INVOKE = "/v1/invoke/acme/echo"


@pytest.fixture
def host_clock() -> HostClock:
    return HostClock()


@pytest.fixture
def victim(platform: DirectPlatform, echo: Deployed, host_clock: HostClock) -> Enclave:
    enclave = platform.start_enclave(monotonic_ms=host_clock.monotonic_ms)
    platform.provision(enclave, echo)
    return enclave


def served(platform: DirectPlatform, enclave: Enclave, request: SealedRequest) -> bytes:
    """What the host carries back for `request` (and the client's check that it is good)."""
    response = enclave.handle(request.envelope)
    open_response(request, response, platform.trust)
    return response


def assert_survives(
    platform: DirectPlatform, enclave: Enclave, echo: Deployed, carried: list[bytes]
) -> None:
    request = seal(echo.record, b"still serving", timeout_s=60, enclave=enclave.key_id)
    assert open_response(request, enclave.handle(request.envelope), platform.trust).ok
    assert not any(SECRET in data for data in carried)


def test_stepping_the_clock_on_then_back_does_not_serve_a_replayed_request_again(
    platform: DirectPlatform, echo: Deployed, victim: Enclave, host_clock: HostClock
) -> None:
    request = seal(echo.record, SECRET, timeout_s=2, enclave=victim.key_id)
    carried = [request.envelope, served(platform, victim, request)]
    host_clock.step(3_000)  # past the deadline: the window forgets the id ...
    with pytest.raises(RequestExpired):
        victim.handle(request.envelope)
    host_clock.step(-3_000)  # ... and back before it: time holds at its high-water mark
    with pytest.raises(RequestExpired):
        victim.handle(request.envelope)
    assert_survives(platform, victim, echo, carried)


def test_a_clock_stepped_past_a_deadline_then_re_anchored_does_not_serve_a_replay(
    platform: DirectPlatform, echo: Deployed, victim: Enclave, host_clock: HostClock
) -> None:
    request = seal(echo.record, SECRET, timeout_s=2, enclave=victim.key_id)
    carried = [request.envelope, served(platform, victim, request)]
    host_clock.step(3_000)
    with pytest.raises(RequestExpired):  # the window forgets the id here
        victim.handle(request.envelope)
    platform.anchor(victim)  # the KMS's time is 3 s behind: the jump shows (ClockDrift) ...
    platform.anchor(victim)  # ... and an agreeing anchor makes the clock trusted again,
    with pytest.raises(RequestExpired):  # but never turns it back before the deadline
        victim.handle(request.envelope)
    assert_survives(platform, victim, echo, carried)


@pytest.mark.parametrize(
    ("attack", "step_ms"),
    [("slowed: 5 s of real time not counted", -5_000), ("sped up: 5 s too many", 5_000)],
)
def test_a_slowed_or_sped_up_clock_is_caught_by_the_next_anchor(
    platform: DirectPlatform,
    echo: Deployed,
    victim: Enclave,
    host_clock: HostClock,
    attack: str,
    step_ms: int,
) -> None:
    host_clock.step(step_ms)
    platform.anchor(victim)  # the host must anchor at least every 60 s of its own clock
    request = seal(echo.record, SECRET, enclave=victim.key_id)
    with pytest.raises(ClockDrift):
        victim.handle(request.envelope)
    platform.anchor(victim)  # the host keeps time honestly for one interval: serving again
    assert_survives(platform, victim, echo, [request.envelope])


def test_a_frozen_clock_serves_after_the_deadline_and_the_client_refuses_it(
    platform: DirectPlatform, echo: Deployed, victim: Enclave, host_clock: HostClock
) -> None:
    host_clock.step(-10_000)  # frozen for 10 s: the enclave cannot tell until an anchor
    request = seal(echo.record, SECRET, timeout_s=0.5, enclave=victim.key_id)
    time.sleep(0.6)  # the host held the request past its deadline
    response = victim.handle(request.envelope)  # ... and the frozen enclave still serves it
    with pytest.raises(LateResponse):
        open_response(request, response, platform.trust)
    assert_survives(platform, victim, echo, [request.envelope, response])


@pytest.fixture
def hostile(trust: EmbeddedPlatform) -> Iterator[HostileHost]:
    pool = PoolConfig(stem_cells=1, max_workers=1, anchor_every_s=0.3)  # no spawn to race
    with HostileHost(trust, pool) as hostile:
        yield hostile


@pytest.fixture
def client(hostile: HostileHost, trust: EmbeddedPlatform) -> Iterator[Client]:
    with hostile.client() as client:
        trust.deploy_bundle(client, echo_bundle())
        assert client.invoke("acme/echo", b"warm").output == b"warm"
        yield client


def wait_for_event(hostile: HostileHost, kind: str, timeout_s: float = 10) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        events = [e for e in hostile.dispatcher.events.since() if e["kind"] == kind]
        if events:
            detail: dict[str, object] = events[0]["detail"]
            return detail
        time.sleep(0.05)
    raise AssertionError(f"no {kind} event")


def old_anchor(hostile: HostileHost) -> Callable[[bytes], bytes]:
    """The host swaps the KMS's fresh anchor for one it relayed before (for another nonce)."""
    return replace(hostile.trust_tap.sent("time_anchor", reply=True)[0])


def forged_anchor(hostile: HostileHost) -> Callable[[bytes], bytes]:
    """The host signs the outstanding nonce with a time of its choosing, under its own key."""
    nonce = hostile.trust_tap.sent("time_anchor")[-1]
    body = {"nonce": nonce, "time_ms": 0}
    return replace(signed.sign_document(SigningKey.generate(), clock.CONTEXT, body))


@pytest.mark.parametrize(
    ("attack", "swap", "expected"),
    [
        ("an old anchor replayed for a new nonce", old_anchor, "StaleAnchor"),
        ("an anchor signed by another key", forged_anchor, "BadSignature"),
    ],
)
def test_a_swapped_time_anchor_is_refused_and_the_clock_keeps_its_last_one(
    hostile: HostileHost,
    client: Client,
    attack: str,
    swap: Callable[[HostileHost], Callable[[bytes], bytes]],
    expected: str,
) -> None:
    swapped = {"done": False}

    def mutation(data: bytes) -> bytes:
        swapped["done"] = True
        return swap(hostile)(data)

    hostile.trust_tap.rewrite("time_anchor", mutation, reply=True)
    assert wait_for_event(hostile, "anchor_failed")["error"] == expected
    assert swapped["done"]
    assert client.invoke("acme/echo", SECRET).output == SECRET  # served on the kept anchor
    assert hostile.serves("acme/echo") == b"still serving"
    assert not hostile.saw(SECRET)


def test_a_response_held_past_its_deadline_is_refused_by_the_client(
    hostile: HostileHost, client: Client
) -> None:
    hostile.client_tap.delay(INVOKE, 1.5, reply=True)
    with pytest.raises(LateResponse):
        client.invoke("acme/echo", SECRET, timeout_s=1)
    assert hostile.serves("acme/echo") == b"still serving"
    assert not hostile.saw(SECRET)

"""Class 6 through a real enclave: a request cannot read the residue of the one before it."""

from __future__ import annotations

import pytest

from tests.adversary.residue import KINDS, StateKind
from tests.conftest import echo_bundle, small_limits
from veil.client.invoke import Invocation, open_response, seal
from veil.trusted.bundle import Bundle, Manifest
from veil.trusted.enclave import Enclave
from veil.wiring.direct import Deployed, DirectPlatform

SECRET = b"d:secret-of-alice-7f3a9c"
"""Request 1's input: starts with `d` (disturb), and must never reach the host."""


def call(
    platform: DirectPlatform, enclave: Enclave, deployed: Deployed, data: bytes
) -> tuple[Invocation, bytes]:
    request = seal(deployed.record, data, enclave=enclave.key_id)
    response = enclave.handle(request.envelope)
    return open_response(request, response, platform.trust), response


def serving(platform: DirectPlatform, name: str, code: bytes) -> tuple[Enclave, Deployed]:
    deployed = platform.deploy(Bundle(Manifest(name, "1", limits=small_limits()), code))
    enclave = platform.start_enclave()
    platform.provision(enclave, deployed)
    return enclave, deployed


def still_serves(platform: DirectPlatform, enclave: Enclave) -> None:
    echo = platform.deploy(echo_bundle("acme/echo-after"))
    platform.provision(enclave, echo)
    assert call(platform, enclave, echo, b"still here")[0].output == b"still here"


@pytest.mark.parametrize("kind", [k for k in KINDS if k.refused is None], ids=lambda k: k.name)
def test_the_next_request_sees_what_a_fresh_instance_sees(
    platform: DirectPlatform, kind: StateKind
) -> None:
    code = kind.wasm()
    fresh_enclave, fresh_fn = serving(platform, "acme/fresh", code)
    fresh, _ = call(platform, fresh_enclave, fresh_fn, b"r")
    enclave, fn = serving(platform, "acme/victim", code)
    first, sealed = call(platform, enclave, fn, SECRET)
    second, _ = call(platform, enclave, fn, b"r")
    assert first.ok and fresh.ok
    assert (second.ok, second.output) == (True, fresh.output)
    assert second.receipt.snapshot_hash == fresh.receipt.snapshot_hash
    assert SECRET not in sealed
    still_serves(platform, enclave)


@pytest.mark.parametrize("kind", [k for k in KINDS if k.refused is not None], ids=lambda k: k.name)
def test_a_module_whose_state_rewind_cannot_cover_is_refused_at_load(
    platform: DirectPlatform, kind: StateKind
) -> None:
    assert kind.refused is not None
    deployed = platform.deploy(
        Bundle(Manifest("acme/hidden-state", "1", limits=small_limits()), kind.wasm())
    )
    enclave = platform.start_enclave()
    with pytest.raises(kind.refused):
        platform.provision(enclave, deployed)
    still_serves(platform, enclave)

"""The enclave seals what a function printed to the tenant's log key from its grant, only then."""

from __future__ import annotations

import pytest

from tests.printing import printing_bundle
from veil.client.invoke import Invocation, open_response, seal
from veil.trusted.crypto import hazmat, recipes
from veil.trusted.errors import DecryptionFailed
from veil.trusted.wire.envelope import Response, log_info
from veil.wiring.direct import DirectPlatform

TENANT_LOG_KEY = hazmat.HpkePrivateKey.generate(recipes.LOG_SUITE)


def served(platform: DirectPlatform, log_key: bytes, data: bytes) -> tuple[Response, Invocation]:
    deployed = platform.deploy(printing_bundle(), log_key=log_key)
    enclave = platform.start_enclave()
    platform.provision(enclave, deployed)
    request = seal(deployed.record, data, enclave=enclave.key_id)
    reply = enclave.handle(request.envelope)
    return Response.from_bytes(reply), open_response(request, reply, platform.trust)


def test_what_was_printed_is_sealed_to_the_tenant_bound_to_its_invocation(
    platform: DirectPlatform,
) -> None:
    response, invocation = served(platform, TENANT_LOG_KEY.public_bytes, b"a printed secret")
    r = invocation.receipt
    info = log_info("acme/printer", 1, r.request_id, r.served_ms, r.enclave_key_id)
    assert recipes.open_log(TENANT_LOG_KEY, response.log, info) == b"a printed secret"
    assert b"a printed secret" not in response.log
    with pytest.raises(DecryptionFailed):  # bound to this invocation: another one's info fails
        recipes.open_log(TENANT_LOG_KEY, response.log, log_info("acme/other", 1, b"", 0, b""))


def test_nothing_is_sealed_when_nothing_was_printed(platform: DirectPlatform) -> None:
    response, _ = served(platform, TENANT_LOG_KEY.public_bytes, b"")
    assert response.log == b""


def test_nothing_is_sealed_for_a_function_registered_without_a_log_key(
    platform: DirectPlatform,
) -> None:
    response, invocation = served(platform, b"", b"printed")
    assert response.log == b""
    assert invocation.logs == b"printed"  # the caller's copy, in its sealed response

"""Python and JavaScript functions behind the enclave: sealed in, sealed out, with receipts."""

from __future__ import annotations

import dataclasses
import json

import pytest

from veil.client.invoke import RemoteFunctionError, open_response, result_or_raise, seal
from veil.trusted.bundle import Bundle
from veil.trusted.enclave import Enclave
from veil.wiring.direct import Deployed, DirectPlatform


def deploy(platform: DirectPlatform, bundle: Bundle) -> tuple[Deployed, Enclave]:
    named = dataclasses.replace(bundle.manifest, name=f"acme/{bundle.manifest.name}")
    deployed = platform.deploy(Bundle(named, bundle.code))
    enclave = platform.start_enclave(platform.engine)
    platform.provision(enclave, deployed)
    return deployed, enclave


@pytest.mark.parametrize("name", ["python-hello", "js-hello"])
def test_a_sealed_request_gets_the_handlers_output_and_logs_with_a_valid_receipt(
    platform, bundles, engine, name
):
    platform.engine = engine  # reuse the session's compile cache
    deployed, enclave = deploy(platform, bundles(name))
    request = seal(deployed.record, b'{"k": "v"}', enclave=enclave.key_id)
    invocation = open_response(request, enclave.handle(request.envelope), platform.trust)
    assert json.loads(result_or_raise(invocation)) == {"greeting": "hello", "echo": {"k": "v"}}
    assert invocation.logs.startswith(b"json request with keys")
    assert invocation.receipt.bundle_digest == deployed.record.digest


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("python-probe", "ValueError: tenant bug"),
        ("js-probe", "TypeError: tenant bug"),
    ],
)
def test_the_users_traceback_reaches_the_client_sealed(platform, bundles, engine, name, needle):
    platform.engine = engine
    deployed, enclave = deploy(platform, bundles(name))
    request = seal(deployed.record, b"raise", enclave=enclave.key_id)
    response = enclave.handle(request.envelope)
    assert needle.encode() not in response
    invocation = open_response(request, response, platform.trust)
    with pytest.raises(RemoteFunctionError) as raised:
        result_or_raise(invocation)
    assert raised.value.kind == "FunctionFailed"
    assert needle in invocation.error_message

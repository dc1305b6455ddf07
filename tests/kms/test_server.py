"""The KMS+verifier HTTP app on a real uvicorn, reached through the real client (`RemoteTrust`).

Refusals cross the wire as a status code and the refusal's class name,
and come back out of `RemoteTrust` as the same exception class; malformed
input is a 400 with a readable error, never a traceback, and the server
keeps serving afterwards.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import echo_bundle
from tests.serving import serving
from veil.attestation.errors import NonceInvalid, ReportDataMismatch
from veil.attestation.policy import Policy
from veil.client.invoke import open_response, seal
from veil.kms.errors import DigestNotRegistered, RemoteError, UnknownFunctionName, UnknownTenant
from veil.kms.remote import RemoteTrust, ServiceUnavailable
from veil.kms.server import MAX_BODY, trust_app
from veil.trusted.attest.sim import TEE
from veil.trusted.clock import CONTEXT
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.enclave import Enclave
from veil.trusted.errors import BadSignature, MalformedMessage
from veil.trusted.wire.records import FunctionRecord, Registration
from veil.trusted.wire.signed import open_document
from veil.wiring.direct import Deployed, DirectPlatform

ADMIN = "the-admin-token"


@dataclass
class Served:
    url: str
    platform: DirectPlatform
    remote: RemoteTrust

    def attested_enclave(self) -> Enclave:
        """An enclave attested the way a worker does it: challenge, attest, anchor over HTTP."""
        enclave = Enclave(self.remote.public_key)
        nonce = self.remote.challenge()
        evidence = self.platform.attester.evidence(enclave.report_data(nonce))
        enclave.set_attestation(
            self.remote.attest(TEE, evidence, enclave.binding.to_bytes(), nonce)
        )
        enclave.clock.anchor(self.remote.time_anchor(enclave.clock.request()))
        return enclave


@pytest.fixture
def served(platform: DirectPlatform) -> Iterator[Served]:
    with (
        serving(trust_app(platform.kms, platform.verifier, ADMIN)) as url,
        RemoteTrust(url) as remote,
    ):
        yield Served(url, platform, remote)


def post_json(served: Served, path: str, body: object, token: str | None = ADMIN) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.post(served.url + path, json=body, headers=headers)


def assert_malformed(response: httpx.Response) -> None:
    assert response.status_code == 400
    payload = response.json()
    assert payload["error"] == "MalformedMessage"
    assert payload["detail"] and "Traceback" not in response.text


def test_the_published_keys_are_the_kms_and_verifier_keys(served: Served) -> None:
    assert served.remote.public_key == served.platform.kms.public_key
    assert served.remote.verifier_keys() == [served.platform.verifier.key.public]
    assert "sim" in served.remote.keys()["warning"]


def test_tenant_registration_without_the_admin_token_is_refused(served: Served) -> None:
    key = SigningKey.generate().public.raw.hex()
    response = post_json(served, "/v1/tenants", {"tenant": "beta", "key": key}, token=None)
    assert response.status_code == 401
    assert served.platform.kms._store.tenant_key("beta") is None


def test_tenant_registration_with_a_wrong_admin_token_is_refused(served: Served) -> None:
    with pytest.raises(RemoteError, match="HTTP 401"):
        served.remote.register_tenant("beta", SigningKey.generate().public, "not-" + ADMIN)
    assert served.platform.kms._store.tenant_key("beta") is None


def test_a_registered_tenant_registers_a_function_and_its_record_is_served(
    served: Served,
) -> None:
    tenant = SigningKey.generate()
    served.remote.register_tenant("beta", tenant.public, ADMIN)
    bundle = echo_bundle("beta/echo")
    registration = Registration("beta", "beta/echo", bundle.digest, Policy.development())
    record_bytes = served.remote.register_function(registration.sign(tenant))
    record = FunctionRecord.verify(record_bytes, served.remote.public_key)
    assert (record.name, record.digest, record.version) == ("beta/echo", bundle.digest, 1)
    assert served.remote.function_record("beta/echo") == record_bytes
    assert httpx.get(f"{served.url}/v1/functions").json() == ["beta/echo"]


def test_a_registration_from_an_unknown_tenant_is_refused_as_such(served: Served) -> None:
    registration = Registration("nobody", "nobody/fn", bytes(32), Policy.development())
    with pytest.raises(UnknownTenant):
        served.remote.register_function(registration.sign(SigningKey.generate()))


def test_a_registration_signed_by_another_key_is_refused(served: Served) -> None:
    registration = Registration("acme", "acme/fn", bytes(32), Policy.development())
    with pytest.raises(BadSignature):
        served.remote.register_function(registration.sign(SigningKey.generate()))


def test_the_record_of_an_unknown_function_is_a_404(served: Served) -> None:
    with pytest.raises(UnknownFunctionName):
        served.remote.function_record("acme/missing")
    response = httpx.get(f"{served.url}/v1/functions/acme/missing")
    assert (response.status_code, response.json()["error"]) == (404, "UnknownFunctionName")


def test_an_enclave_attested_over_http_gets_keys_that_serve_an_invocation(
    served: Served, echo: Deployed
) -> None:
    enclave = served.attested_enclave()
    grant = served.remote.release(enclave.key_request(echo.record.name, echo.record.digest))
    enclave.install(echo.signed_bundle, grant)
    request = seal(echo.record, b"released over http", enclave=enclave.key_id)
    invocation = open_response(request, enclave.handle(request.envelope), served.platform.trust)
    assert invocation.output == b"released over http"


def test_release_for_a_digest_that_is_not_registered_is_refused(
    served: Served, echo: Deployed
) -> None:
    enclave = served.attested_enclave()
    with pytest.raises(DigestNotRegistered):
        served.remote.release(enclave.key_request(echo.record.name, bytes(32)))


def test_release_for_a_garbage_request_is_refused_as_malformed(served: Served) -> None:
    with pytest.raises(MalformedMessage):
        served.remote.release(b"\xff\x00 not a key request")
    response = httpx.post(f"{served.url}/v1/release", content=b"\xff\x00")
    assert_malformed(response)


def test_attestation_with_a_nonce_the_verifier_never_issued_is_refused(served: Served) -> None:
    enclave = Enclave(served.remote.public_key)
    nonce = bytes(32)
    evidence = served.platform.attester.evidence(enclave.report_data(nonce))
    with pytest.raises(NonceInvalid):
        served.remote.attest(TEE, evidence, enclave.binding.to_bytes(), nonce)


def test_attestation_binding_keys_other_than_the_reported_ones_is_refused(
    served: Served,
) -> None:
    enclave, other = Enclave(served.remote.public_key), Enclave(served.remote.public_key)
    nonce = served.remote.challenge()
    evidence = served.platform.attester.evidence(enclave.report_data(nonce))
    with pytest.raises(ReportDataMismatch):
        served.remote.attest(TEE, evidence, other.binding.to_bytes(), nonce)


@pytest.mark.parametrize(
    "body",
    [
        {"tenant": "beta"},
        {"tenant": "beta", "key": "not hex"},
        {"tenant": "be/ta", "key": "00" * 32},
        {"tenant": "beta", "key": "00" * 3},
        ["not", "an", "object"],
    ],
    ids=["missing-key", "key-not-hex", "tenant-with-slash", "short-key", "not-an-object"],
)
def test_a_malformed_tenant_body_is_a_400_with_a_clear_error(served: Served, body: object) -> None:
    assert_malformed(post_json(served, "/v1/tenants", body))
    assert served.platform.kms._store.tenant_key("beta") is None


def test_a_tenant_body_that_is_not_json_is_a_400(served: Served) -> None:
    response = httpx.post(
        f"{served.url}/v1/tenants",
        content=b"{not json",
        headers={"Authorization": f"Bearer {ADMIN}", "content-type": "application/json"},
    )
    assert_malformed(response)


@pytest.mark.parametrize("field", ["evidence", "binding", "nonce"])
def test_an_attest_body_with_a_field_that_is_not_base64_is_a_400(
    served: Served, field: str
) -> None:
    body = {"tee": TEE, "evidence": "AAAA", "binding": "AAAA", "nonce": "AAAA"} | {field: "!!"}
    response = post_json(served, "/v1/attestation/attest", body, token=None)
    assert_malformed(response)
    assert field in response.json()["detail"]


def test_garbage_registrations_are_400_and_oversized_bodies_413(served: Served) -> None:
    assert_malformed(httpx.post(f"{served.url}/v1/functions", content=b"\x00garbage"))
    too_big = httpx.post(f"{served.url}/v1/functions", content=b"\x00" * (MAX_BODY + 1))
    assert too_big.status_code == 413


def test_the_server_keeps_serving_after_bad_input(served: Served, echo: Deployed) -> None:
    for _ in range(3):
        httpx.post(f"{served.url}/v1/release", content=b"\xff")
        post_json(served, "/v1/tenants", {"tenant": "x", "key": "zz"})
        post_json(served, "/v1/attestation/attest", {"tee": 1}, token=None)
    assert served.remote.function_record(echo.record.name) == echo.record_bytes
    enclave = served.attested_enclave()
    served.remote.release(enclave.key_request(echo.record.name, echo.record.digest))


def test_a_client_of_a_server_that_is_not_there_says_so() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with (
        RemoteTrust(f"http://127.0.0.1:{port}", timeout=2) as remote,
        pytest.raises(ServiceUnavailable),
    ):
        remote.challenge()


def test_the_kms_signs_its_time_for_an_enclaves_nonce_over_http(served: Served) -> None:
    nonce = b"n" * 16
    signed = served.remote.time_anchor(nonce)
    body = open_document(
        signed,
        context=CONTEXT,
        key=served.platform.kms.public_key,
        limit=256,
        fields={"nonce": bytes, "time_ms": int},
    )
    assert body["nonce"] == nonce and abs(body["time_ms"] - time.time() * 1000) < 5000


@pytest.mark.parametrize("nonce", [b"", b"n" * 15, b"n" * 17, b"n" * 1024])
def test_a_time_nonce_of_the_wrong_size_is_a_400(served: Served, nonce: bytes) -> None:
    with pytest.raises(MalformedMessage):
        served.remote.time_anchor(nonce)
    assert_malformed(httpx.post(f"{served.url}/v1/time", content=nonce))

"""Class 7, reading the code: the host holds sealed bundles and sealed registrations only.

Played by `HostileHost`. The function's code carries a marker that appears
nowhere else, and it is deployed with a secret; neither may appear in any
byte the host carried (SDK ↔ gateway, gateway ↔ KMS, dispatcher ↔ enclave)
or stored (the registry). Each attack row then expects its typed refusal,
an honest request served afterwards, and neither marker nor secret seen.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import cbor2
import pytest

from tests.adversary.host import HostileHost, flip_bit
from tests.conftest import marked_bundle
from tests.host.test_no_plaintext_on_host import process_memory
from veil.attestation.policy import Policy
from veil.client.errors import GatewayError
from veil.client.sdk import Client
from veil.registration import REGISTER_CONTEXT, Registration
from veil.trusted.bundle import Bundle, SealedBundle
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.errors import DecryptionFailed, VeilError
from veil.trusted.wire import signed
from veil.wiring.embedded import EmbeddedPlatform
from veil.wiring.services import admin_token

SECRET = b"secret-value-4c1d9e-of-the-tenant"
SECRETS = {"api-token": SECRET}


CODE_A = b"code-marker-a-1f8e2b7c9d-only-in-the-source"
CODE_B = b"code-marker-b-6a0c3e5f4b-only-in-the-source"
CODE_A2 = b"code-marker-a-v2-93d1c0ee-only-in-the-source"
PLAINTEXT = (CODE_A, CODE_B, CODE_A2, SECRET)


@pytest.fixture
def host(trust: EmbeddedPlatform) -> Iterator[HostileHost]:
    with HostileHost(trust) as hostile:
        yield hostile


@pytest.fixture
def client(host: HostileHost) -> Iterator[Client]:
    with host.client() as client:
        yield client


def deploy(trust: EmbeddedPlatform, client: Client, bundle: Bundle) -> bytes:
    """Deploy with the secret; the digest the registry keys the sealed bundle by."""
    return trust.deploy_bundle(client, bundle, secrets=SECRETS).digest


def kind(exc: BaseException) -> str:
    return exc.kind if isinstance(exc, GatewayError) else type(exc).__name__


def refused(client: Client, name: str) -> str:
    with pytest.raises((VeilError, GatewayError)) as raised:
        client.invoke(name, b"")
    return kind(raised.value)


def stored(host: HostileHost, digest: bytes) -> bytes:
    bundle = host.registry.bundle(digest)
    assert bundle is not None
    return bundle


def store(host: HostileHost, digest: bytes, sealed: bytes) -> None:
    """Overwrite a stored bundle, as the host that owns the registry's disk can."""
    with sqlite3.connect(host.data_dir / "registry.sqlite3") as db:
        db.execute("UPDATE bundles SET data = ? WHERE digest = ?", (sealed, digest))


def recode(sealed: bytes, **fields: object) -> bytes:
    """A stored sealed bundle with some of its CBOR fields replaced."""
    return bytes(cbor2.dumps({**cbor2.loads(sealed), **fields}))


def assert_survives(host: HostileHost, name: str, output: bytes) -> None:
    assert host.serves(name) == output
    assert not any(host.saw(plain) for plain in PLAINTEXT)


def test_no_host_byte_holds_the_code_or_the_secret_while_the_function_runs(
    host: HostileHost, trust: EmbeddedPlatform, client: Client
) -> None:
    bundle = marked_bundle("acme/a", CODE_A)
    assert CODE_A in bundle.code, "sanity: the marker is in the code, verbatim"
    deploy(trust, client, bundle)
    assert client.invoke("acme/a", b"x").output == CODE_A  # its code ran
    assert host.client_tap.sent("/v1/functions") and host.enclave_tap.sent("install")
    assert host.trust_tap.sent("register_function") and host.trust_tap.sent("release")
    assert host.saw(b"acme/a") and host.saw(bundle.digest), "sanity: the taps see metadata"
    assert not host.saw(CODE_A) and not host.saw(bundle.code)
    assert not host.saw(SECRET)
    workers = list(host.dispatcher.pool.workers.values())
    held = (b"".join(process_memory(w.process.pid)) for w in workers if w.functions)
    assert any(SECRET in memory for memory in held), "the secret did reach the enclave"


def test_the_host_reading_the_registry_finds_names_manifests_and_digests_only(
    host: HostileHost, trust: EmbeddedPlatform, client: Client
) -> None:
    bundle = marked_bundle("acme/a", CODE_A)
    digest = deploy(trust, client, bundle)
    entry = host.registry.get("acme/a")
    assert entry is not None and entry.digest == digest
    sealed = SealedBundle.from_bytes(stored(host, digest))
    assert (sealed.manifest, sealed.digest) == (bundle.manifest, digest)
    assert len(sealed.code) == len(bundle.code) + 28  # what the size tells
    assert bundle.code not in sealed.code and CODE_A not in sealed.code
    registry = b"".join(p.read_bytes() for p in host.data_dir.glob("registry.sqlite3*"))
    assert CODE_A not in registry and SECRET not in registry
    assert_survives(host, "acme/a", CODE_A)


def test_swapping_two_functions_ciphertexts_is_refused(
    host: HostileHost, trust: EmbeddedPlatform, client: Client
) -> None:
    """The host keeps a's clear manifest and digest and puts b's code under them."""
    a = deploy(trust, client, marked_bundle("acme/a", CODE_A))
    b = deploy(trust, client, marked_bundle("acme/b", CODE_B))
    honest = stored(host, a)
    store(host, a, recode(honest, code=cbor2.loads(stored(host, b))["code"]))
    assert refused(client, "acme/a") == DecryptionFailed.__name__
    store(host, a, honest)
    assert_survives(host, "acme/a", CODE_A)
    assert_survives(host, "acme/b", CODE_B)


def test_serving_an_older_versions_ciphertext_is_refused(
    host: HostileHost, trust: EmbeddedPlatform, client: Client
) -> None:
    """The same code redeployed is sealed under a fresh code key: the old ciphertext of the
    very same plaintext (same manifest, same digest) does not open under the new grant."""
    bundle = marked_bundle("acme/a", CODE_A)
    deploy(trust, client, bundle)
    v1 = stored(host, bundle.digest)
    deploy(trust, client, bundle)
    v2 = stored(host, bundle.digest)
    assert v1 != v2
    store(host, bundle.digest, v1)
    assert refused(client, "acme/a") == DecryptionFailed.__name__
    store(host, bundle.digest, v2)
    assert_survives(host, "acme/a", CODE_A)


def test_another_versions_code_under_this_versions_manifest_is_refused(
    host: HostileHost, trust: EmbeddedPlatform, client: Client
) -> None:
    old = deploy(trust, client, marked_bundle("acme/a", CODE_A))
    old_code = cbor2.loads(stored(host, old))["code"]
    new = deploy(trust, client, marked_bundle("acme/a", CODE_A2))
    honest = stored(host, new)
    store(host, new, recode(honest, code=old_code))
    assert refused(client, "acme/a") == DecryptionFailed.__name__
    store(host, new, honest)
    assert_survives(host, "acme/a", CODE_A2)


@pytest.mark.parametrize("where", ["code", "manifest"])
def test_a_flipped_bit_in_a_stored_bundle_is_refused_as_undecryptable(
    host: HostileHost, trust: EmbeddedPlatform, client: Client, where: str
) -> None:
    """A bit of the ciphertext, or of the clear manifest the AAD binds (here the flag that
    would send the function's logs out with its results)."""
    digest = deploy(trust, client, marked_bundle("acme/a", CODE_A))
    honest = stored(host, digest)
    fields = cbor2.loads(honest)
    if where == "code":
        tampered = recode(honest, code=flip_bit(fields["code"], len(fields["code"]) // 2))
    else:
        tampered = recode(honest, manifest={**fields["manifest"], "capture_logs": True})
    store(host, digest, tampered)
    assert refused(client, "acme/a") == DecryptionFailed.__name__
    store(host, digest, honest)
    assert_survives(host, "acme/a", CODE_A)


def test_a_replayed_old_sealed_registration_is_refused(
    host: HostileHost, trust: EmbeddedPlatform, client: Client
) -> None:
    """The host kept v1's deploy (registration and sealed bundle) and replays it after v2,
    to the KMS directly and through the gateway."""
    deploy(trust, client, marked_bundle("acme/a", CODE_A))
    old_registration = host.trust_tap.sent("register_function")[-1]
    old_deploy = host.client_tap.sent("/v1/functions")[-1]
    deploy(trust, client, marked_bundle("acme/a", CODE_A2))
    with pytest.raises(VeilError) as direct:
        host.trust_tap.inner.register_function(old_registration)
    assert kind(direct.value) == "StaleRegistration"
    answer = host.client_tap.resend(host.url, "/v1/functions", old_deploy)
    assert (answer.status_code, answer.json()["error"]) == (403, "StaleRegistration")
    assert_survives(host, "acme/a", CODE_A2)


def test_a_sealed_part_lifted_into_a_co_tenants_registration_does_not_open(
    host: HostileHost, trust: EmbeddedPlatform, client: Client
) -> None:
    """A co-tenant colluding with the host signs a registration of its own that carries
    acme's sealed code key and secrets, so the KMS would release them to its enclaves."""
    digest = deploy(trust, client, marked_bundle("acme/a", CODE_A))
    lifted = body_of(host.trust_tap.sent("register_function")[-1])["sealed"]
    rival = SigningKey.generate()
    host.trust_tap.inner.register_tenant("rival", rival.public, admin_token(trust.data_dir))
    seal_key = trust.trust().kms_seal_key
    assert seal_key is not None
    own = Registration("rival", "rival/a", digest, Policy.development()).sign(rival, seal_key)
    forged = signed.sign_document(rival, REGISTER_CONTEXT, {**body_of(own), "sealed": lifted})
    with pytest.raises(VeilError) as raised:
        host.trust_tap.inner.register_function(forged)
    assert kind(raised.value) == DecryptionFailed.__name__
    assert_survives(host, "acme/a", CODE_A)


def body_of(signed_document: bytes) -> dict[str, object]:
    body: dict[str, object] = cbor2.loads(cbor2.loads(signed_document)["body"])
    return body

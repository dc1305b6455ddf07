"""Function logs: what a function prints is the tenant's, whatever the host does with it.

Played by `HostileHost`. A function prints its (secret) input; the enclave
seals that to the tenant's log key and the host keeps the ciphertext in its
`logs.sqlite3`. No byte the host carried or stored holds the secret; what
the host serves back instead of the honest entries is refused or dropped
by the tenant's `LogReader`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.adversary.host import HostileHost, replace
from tests.printing import printing_bundle
from veil.attestation.policy import Policy
from veil.client.logs import LogReader
from veil.client.sdk import Client
from veil.trusted.crypto import hazmat, recipes
from veil.wiring.embedded import EmbeddedPlatform

SECRET = b"printed-secret-5b7e1d-of-the-tenant"
KEY = hazmat.HpkePrivateKey.generate(recipes.LOG_SUITE)


@pytest.fixture
def host(trust: EmbeddedPlatform) -> Iterator[HostileHost]:
    with HostileHost(trust) as hostile:
        yield hostile


@pytest.fixture
def client(host: HostileHost, trust: EmbeddedPlatform) -> Iterator[Client]:
    with host.client() as client:
        for name in ("acme/a", "acme/b"):
            client.deploy(
                printing_bundle(name),
                tenant=trust.tenant,
                key=trust.tenant_key,
                policy=Policy.development(),
                log_key=KEY.public_bytes,
            )
        yield client


def texts(client: Client, name: str) -> tuple[list[bytes], int]:
    """What the tenant reads of `name`'s log, and how many entries it refused."""
    lines, refused = LogReader(KEY, name).read(client.function_logs(name)["entries"])
    return [line.text for line in lines], len(refused)


def test_the_host_stores_and_serves_what_was_printed_but_never_sees_it(
    host: HostileHost, client: Client
) -> None:
    assert client.invoke("acme/a", SECRET).output == b"ok"
    assert texts(client, "acme/a") == ([SECRET], 0)
    assert (host.data_dir / "logs.sqlite3").stat().st_size > 0
    assert not host.saw(SECRET)


def test_another_functions_entries_served_as_this_ones_are_refused(
    host: HostileHost, client: Client
) -> None:
    client.invoke("acme/a", SECRET)
    client.invoke("acme/b", b"b's own line")
    a_entries = client.function_logs("acme/a")["entries"]
    renamed = [{**e, "function": "acme/b"} for e in a_entries]
    for served in (a_entries, renamed):  # as they are, and relabelled to the function asked for
        answer = json.dumps({"entries": served}).encode()
        host.client_tap.rewrite("/v1/logs/acme/b", replace(answer), reply=True)
        assert texts(client, "acme/b") == ([], 1)
    assert texts(client, "acme/b") == ([b"b's own line"], 0)  # the honest answer still opens


def test_replayed_and_reordered_entries_are_shown_once_in_served_order(
    host: HostileHost, client: Client
) -> None:
    for n in range(3):
        client.invoke("acme/a", b"line %d" % n)
    entries = client.function_logs("acme/a")["entries"]
    replayed = [*reversed(entries), *entries, {**entries[0], "seq": 99}]
    host.client_tap.rewrite(
        "/v1/logs/acme/a",
        replace(json.dumps({"entries": replayed}).encode()),
        reply=True,
    )
    assert texts(client, "acme/a") == ([b"line 0", b"line 1", b"line 2"], 0)
    assert host.serves("acme/a") == b"ok"

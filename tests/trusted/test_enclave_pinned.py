"""An enclave holds a pinned version `NAME@N` as a function of its own, beside `NAME`.

The bundle's manifest says `NAME`; the KMS-signed record says `NAME@N` and
version N, and only that pairing is accepted.
"""

from __future__ import annotations

import pytest

from tests.conftest import marked_bundle
from veil.client.invoke import open_response, seal
from veil.trusted.enclave import Enclave, UnknownFunction
from veil.trusted.wire.records import FunctionRecord
from veil.wiring.direct import Deployed, DirectPlatform


def answer(platform: DirectPlatform, enclave: Enclave, record: FunctionRecord) -> bytes:
    request = seal(record, b"which code?", enclave=enclave.key_id)
    return open_response(request, enclave.handle(request.envelope), platform.trust).output


def record_of(platform: DirectPlatform, name: str) -> FunctionRecord:
    return FunctionRecord.verify(platform.kms.function_record(name), platform.kms.public_key)


@pytest.fixture
def two_versions(platform: DirectPlatform) -> tuple[Deployed, Deployed]:
    return (
        platform.deploy(marked_bundle("acme/marked", b"code of v1")),
        platform.deploy(marked_bundle("acme/marked", b"code of v2")),
    )


def test_a_pinned_version_serves_its_own_code_beside_the_current_one(
    platform: DirectPlatform, two_versions: tuple[Deployed, Deployed]
) -> None:
    v1, v2 = two_versions
    enclave = platform.start_enclave()
    platform.provision(enclave, v2)
    platform.provision(enclave, v1, name="acme/marked@1")
    assert answer(platform, enclave, record_of(platform, "acme/marked@1")) == b"code of v1"
    assert answer(platform, enclave, v2.record) == b"code of v2"


def test_a_pinned_install_leaves_the_current_version_where_it_is(
    platform: DirectPlatform, two_versions: tuple[Deployed, Deployed]
) -> None:
    v1, v2 = two_versions
    enclave = platform.start_enclave()
    platform.provision(enclave, v2)
    platform.provision(enclave, v1, name="acme/marked@1")
    versions = {name: r.version for name, r in enclave.functions().items()}
    assert versions == {"acme/marked": 2, "acme/marked@1": 1}


def test_a_request_for_a_pinned_version_is_not_served_by_the_current_one(
    platform: DirectPlatform, two_versions: tuple[Deployed, Deployed]
) -> None:
    _v1, v2 = two_versions
    enclave = platform.start_enclave()
    platform.provision(enclave, v2)
    request = seal(record_of(platform, "acme/marked@1"), b"x", enclave=enclave.key_id)
    with pytest.raises(UnknownFunction):
        enclave.handle(request.envelope)
    assert answer(platform, enclave, v2.record) == b"code of v2"

"""The KMS's refusals cross HTTP as themselves: every class it may answer with is rebuilt."""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

import veil
from veil.attestation.refusals import REFUSALS
from veil.kms.errors import KMS_ERRORS, RemoteError, UnknownFunctionName, UnknownTenant, rebuild
from veil.kms.errors_http import status_for
from veil.kms.remote import RemoteTrust
from veil.kms.server import trust_app
from veil.trusted import edge
from veil.trusted.errors import InternalError, MalformedMessage, NotFound, Refused, VeilError
from veil.wiring.processes import free_port, wait_healthy
from veil.wiring.services import admin_token, build_trust, server_config


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _all_veil_errors() -> set[type[VeilError]]:
    """Every VeilError subclass Veil defines (all its modules imported)."""
    for info in pkgutil.walk_packages(veil.__path__, "veil."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    return {cls for cls in _subclasses(VeilError) if cls.__module__.startswith("veil.")}


def _defined_in(*packages: str) -> set[type[VeilError]]:
    return {c for c in _all_veil_errors() if c.__module__.startswith(packages)}


def test_every_refusal_of_the_kms_and_the_verifiers_is_registered() -> None:
    missing = _defined_in("veil.kms", "veil.attestation") - set(KMS_ERRORS.values())
    assert not missing, f"add to veil.kms.errors / veil.attestation.refusals: {missing}"


def test_every_refusal_the_enclave_names_to_the_host_is_registered() -> None:
    """Only the edge's list crosses from an enclave (anything else is `InternalError`)."""
    assert set(edge.REFUSALS.values()) | {InternalError} <= set(REFUSALS.values())


def test_registered_names_are_the_class_names_and_unique_across_veil() -> None:
    assert all(name == cls.__name__ for name, cls in KMS_ERRORS.items())
    names = [cls.__name__ for cls in _all_veil_errors()]
    assert len(names) == len(set(names))


def test_an_unknown_name_becomes_remote_error_with_the_name_in_it() -> None:
    exc = rebuild("NoSuchRefusal", "detail")
    assert type(exc) is RemoteError
    assert "NoSuchRefusal" in str(exc)


def test_a_name_that_is_not_a_veil_error_is_not_rebuilt() -> None:
    assert type(rebuild("SystemExit", "bye")) is RemoteError


def test_kms_status_comes_from_the_base_class_not_the_name() -> None:
    class UnknownButRefused(Refused):
        """Named like a lookup, but only a refusal."""

    assert status_for(UnknownButRefused("x")) == 403
    assert status_for(UnknownTenant("x")) == 404
    assert status_for(MalformedMessage("x")) == 400
    assert status_for(VeilError("x")) == 500


@pytest.fixture(scope="module")
def kms_raising(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteTrust]:
    """The real KMS app on a real server, with one more route that raises a named refusal."""
    data_dir: Path = tmp_path_factory.mktemp("kms")
    kms, verifier = build_trust(data_dir)
    app: FastAPI = trust_app(kms, verifier, admin_token(data_dir))

    @app.get("/test/raise/{name}")
    async def raise_named(name: str) -> None:
        raise KMS_ERRORS[name](f"{name} detail")

    port = free_port()
    server = uvicorn.Server(server_config(app, "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_healthy(f"http://127.0.0.1:{port}")
        with RemoteTrust(f"http://127.0.0.1:{port}") as remote:
            yield remote
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.parametrize("name", sorted(KMS_ERRORS))
def test_every_kms_error_round_trips_through_the_http_client(
    kms_raising: RemoteTrust, name: str
) -> None:
    with pytest.raises(KMS_ERRORS[name]) as err:
        kms_raising._request("GET", f"/test/raise/{name}")
    assert type(err.value) is KMS_ERRORS[name]
    assert str(err.value) == f"{name} detail"


def test_a_real_kms_refusal_arrives_as_its_class(kms_raising: RemoteTrust) -> None:
    with pytest.raises(UnknownFunctionName):
        kms_raising.function_record("acme/never-registered")
    assert issubclass(UnknownFunctionName, NotFound)

"""The Python SDK: `Client` and `AsyncClient` over a Veil gateway.

    client = Client.from_config()     # the gateway and keys `veil init` set up, or:
    client = Client("http://127.0.0.1:7070", trust)
    record = client.deploy(bundle, tenant="acme", key=tenant_key, policy=Policy.development())
    invocation = client.invoke("acme/echo", b"hello")

Every record is verified with the pinned KMS key and checked to be the one
asked for, current and fresh (`veil.client.records`), and every response
with the full receipt chain (`veil.client.invoke.open_response`); the
gateway is not trusted for anything but delivery. Each request is sealed to
one enclave, picked at random from the set the gateway recommends for the
function (`enclave_set`, cached for `ENCLAVE_SET_TTL_S`): only that enclave
runs it, at most once (`veil.client.retry`: what retries do). A request refused
as `StaleVersion` is sealed again to a fresh record, once per record version.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any, Self

import httpx

from veil.attestation.policy import Policy
from veil.client.config import ClientConfig, default_data_dir
from veil.client.deploy import deploy_body
from veil.client.errors import GatewayError, GatewayUnavailable, SealKeyNotPinned, check
from veil.client.invoke import Invocation, open_response
from veil.client.records import RecordBook, StaleRecord
from veil.client.retry import Attempts, OnRetry
from veil.client.trust import TrustAnchors
from veil.registration import Removal, VersionList
from veil.trusted.bundle import Bundle
from veil.trusted.crypto import hazmat
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.enclave import StaleVersion
from veil.trusted.errors import MalformedMessage
from veil.trusted.wire.envelope import ENCLAVE_ID_SIZE
from veil.trusted.wire.records import FunctionRecord

CBOR = "application/cbor"
ENCLAVE_SET_TTL_S = 1.0
"""How long a function's recommended enclaves are used before they are asked for again:
briefly, so a client follows the pool as it grows and shrinks."""


class _Base:
    """What both clients share: pinned trust, verified records, request shapes.

    Only the I/O differs between `Client` and `AsyncClient`.
    """

    def __init__(self, url: str, trust: TrustAnchors, on_retry: OnRetry | None = None) -> None:
        self.url = url.rstrip("/")
        self.trust = trust
        self.on_retry = on_retry
        """Told one line each time an invocation is retried (it is also logged at INFO)."""
        self.records = RecordBook(trust.kms_key)
        self._enclave_sets: dict[str, tuple[float, list[bytes]]] = {}

    @classmethod
    def from_config(cls, data_dir: Path | None = None, **options: Any) -> Self:
        """A client of the gateway in `veil init`'s config, trusting only the keys the CLI
        pinned there (`data_dir` as the CLI's: `$VEIL_DATA_DIR` or ~/.local/share/veil).

        Raises `NotInitialised` without a config, `TrustNotPinned` before the first pin.
        """
        config = ClientConfig.load(data_dir or default_data_dir())
        return cls(config.gateway, config.trust(), **options)

    def _cached_set(self, name: str, refresh: bool) -> list[bytes] | None:
        cached = self._enclave_sets.get(name)
        if refresh or cached is None or time.monotonic() - cached[0] > ENCLAVE_SET_TTL_S:
            return None
        return cached[1]

    def _learn_set(self, name: str, answer: Any) -> list[bytes]:
        """Parse the gateway's `{"enclaves": [{"key_id": hex, ...}]}` and cache it."""
        try:
            keys = [bytes.fromhex(e["key_id"]) for e in answer["enclaves"]]
        except (TypeError, KeyError, ValueError):
            raise MalformedMessage("the gateway's enclave set does not parse") from None
        if not keys or any(len(k) != ENCLAVE_ID_SIZE for k in keys):
            raise MalformedMessage("the gateway's enclave set does not parse")
        self._enclave_sets[name] = (time.monotonic(), keys)
        return keys

    @staticmethod
    def _stale_again(exc: StaleVersion, record: FunctionRecord, refused: int | None) -> int:
        """The version now refused as stale; re-raise if it already was once (no loop)."""
        if refused == record.version:
            raise exc
        return record.version

    def _deploy_body(
        self,
        bundle: Bundle,
        tenant: str,
        key: SigningKey,
        policy: Policy,
        suite: hazmat.Suite | None,
        secrets: dict[str, bytes] | None,
        log_key: bytes = b"",
    ) -> bytes:
        if self.trust.kms_seal_key is None:
            raise SealKeyNotPinned("deploying needs the KMS seal key in the trust anchors")
        seal_key = self.trust.kms_seal_key
        return deploy_body(
            bundle, tenant, key, policy, suite, seal_key=seal_key, secrets=secrets, log_key=log_key
        )

    def _unavailable(self) -> GatewayUnavailable:
        return GatewayUnavailable(self.url)

    @staticmethod
    def _deploy_args(body: bytes) -> dict[str, Any]:
        return {"content": body, "headers": {"content-type": CBOR}}

    @staticmethod
    def _invoke_args(envelope: bytes, timeout_s: float) -> dict[str, Any]:
        return {"content": envelope, "headers": {"content-type": CBOR}, "timeout": timeout_s + 5}


class Client(_Base):
    """Invocations refused with 429/503 are retried with backoff within their timeout
    (the same envelope, or sealed to another enclave if its own is gone:
    `veil.client.retry.Attempts`)."""

    def __init__(
        self,
        url: str,
        trust: TrustAnchors,
        timeout: float = 30.0,
        on_retry: OnRetry | None = None,
    ) -> None:
        super().__init__(url, trust, on_retry)
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return check(self._http.request(method, path, **kwargs))
        except httpx.TransportError:
            raise self._unavailable() from None

    def deploy(
        self,
        bundle: Bundle,
        *,
        tenant: str,
        key: SigningKey,
        policy: Policy,
        suite: hazmat.Suite | None = None,
        secrets: dict[str, bytes] | None = None,
        log_key: bytes = b"",
    ) -> FunctionRecord:
        """Deploy `bundle`; `secrets` reach only the KMS and its enclaves; its prints, `log_key`."""
        body = self._deploy_body(bundle, tenant, key, policy, suite, secrets, log_key)
        answer = self._call("POST", "/v1/functions", **self._deploy_args(body)).content
        return self.records.accept_deployed(answer, bundle, key.public)

    def function(self, name: str, *, refresh: bool = False) -> FunctionRecord:
        """The record of `name`, cached until shortly before it expires; an expired one is
        fetched once more (a cache on the way may lag), then `StaleRecord`."""
        if not refresh and (cached := self.records.cached(name)) is not None:
            return cached
        try:
            return self.records.accept(self._call("GET", f"/v1/functions/{name}").content, name)
        except StaleRecord:
            return self.records.accept(self._call("GET", f"/v1/functions/{name}").content, name)

    def functions(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self._call("GET", "/v1/functions").json()
        return listed

    def versions(self, name: str) -> VersionList:
        """The retained versions of `name` (invocable as `name@N`), KMS-signed and checked."""
        return self.records.accept_versions(self._call("GET", f"/v1/versions/{name}").content, name)

    def remove(self, name: str, *, tenant: str, key: SigningKey) -> None:
        """Remove `name` and all its versions, on the tenant's signed word."""
        self._call("POST", "/v1/remove", **self._deploy_args(Removal(tenant, name).sign(key)))

    def refresh(self, name: str) -> int:
        """Ask the gateway to renew `name`'s grants in its warm enclaves now (after a `veil
        secret set`); how many it renewed. A host may ignore it: grants expire anyway."""
        renewed: int = self._call("POST", f"/v1/refresh/{name}").json()["renewed"]
        return renewed

    def enclave_set(self, name: str, *, refresh: bool = False) -> list[bytes]:
        """Key ids of the enclaves the gateway recommends for `name` (cached briefly)."""
        cached = self._cached_set(name, refresh)
        if cached is not None:
            return cached
        answer = self._call("GET", f"/v1/enclaves/{name}").json()
        return self._learn_set(name, answer)

    def enclave_for(self, name: str) -> bytes:
        """One enclave to seal a request for `name` to, at random from `enclave_set`."""
        return random.choice(self.enclave_set(name))

    def invoke(
        self, name: str, data: bytes, *, timeout_s: float = 30.0, failover: bool = True
    ) -> Invocation:
        """Seal `data` to one enclave of `name`, send it, verify the answer.

        Retried within `timeout_s` (`veil.client.retry.Attempts`); `failover=False` never seals
        a second envelope, so the function runs at most once even if the host
        lies about an enclave dying (the call then fails instead).
        """
        tries = Attempts(name, timeout_s, self.on_retry, failover)
        refused: int | None = None
        while True:
            try:
                request = tries.request or tries.seal(
                    self.function(name, refresh=refused is not None),
                    data,
                    self.enclave_set(name, refresh=bool(tries.failed)),
                )
                args = self._invoke_args(request.envelope, tries.remaining)
                response = self._call("POST", f"/v1/invoke/{name}", **args)
            except StaleVersion as exc:  # refused before it opened: sealing anew is safe
                refused = self._stale_again(exc, request.record, refused)
                tries.request = None
                continue
            except GatewayError as exc:
                wait = tries.refused(exc)
                if wait is None:
                    raise
                time.sleep(wait)
                continue
            return open_response(request, response.content, self.trust)

    def enclaves(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self._call("GET", "/v1/enclaves").json()
        return listed

    def function_logs(self, name: str, after: int = 0) -> Any:
        """`name`'s sealed log entries after `after`, unchecked: `veil.client.logs` opens them."""
        return self._call("GET", f"/v1/logs/{name}", params={"after": after}).json()

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        answer = self._call("GET", "/v1/events", params={"since": since})
        listed: list[dict[str, Any]] = answer.json()
        return listed
        events: list[dict[str, Any]] = self._call(
            "GET", "/v1/events", params={"since": since}
        ).json()
        return events

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class AsyncClient(_Base):
    """The same operations for asyncio code."""

    def __init__(
        self,
        url: str,
        trust: TrustAnchors,
        timeout: float = 30.0,
        on_retry: OnRetry | None = None,
    ) -> None:
        super().__init__(url, trust, on_retry)
        self._http = httpx.AsyncClient(base_url=self.url, timeout=timeout)

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return check(await self._http.request(method, path, **kwargs))
        except httpx.TransportError:
            raise self._unavailable() from None

    async def deploy(
        self,
        bundle: Bundle,
        *,
        tenant: str,
        key: SigningKey,
        policy: Policy,
        suite: hazmat.Suite | None = None,
        secrets: dict[str, bytes] | None = None,
        log_key: bytes = b"",
    ) -> FunctionRecord:
        """Deploy `bundle`; `secrets` reach only the KMS and its enclaves; its prints, `log_key`."""
        body = self._deploy_body(bundle, tenant, key, policy, suite, secrets, log_key)
        response = await self._call("POST", "/v1/functions", **self._deploy_args(body))
        return self.records.accept_deployed(response.content, bundle, key.public)

    async def function(self, name: str, *, refresh: bool = False) -> FunctionRecord:
        """As `Client.function`."""
        if not refresh and (cached := self.records.cached(name)) is not None:
            return cached
        try:
            answer = await self._call("GET", f"/v1/functions/{name}")
            return self.records.accept(answer.content, name)
        except StaleRecord:
            answer = await self._call("GET", f"/v1/functions/{name}")
            return self.records.accept(answer.content, name)

    async def enclave_set(self, name: str, *, refresh: bool = False) -> list[bytes]:
        """Key ids of the enclaves the gateway recommends for `name` (cached briefly)."""
        cached = self._cached_set(name, refresh)
        if cached is not None:
            return cached
        answer = (await self._call("GET", f"/v1/enclaves/{name}")).json()
        return self._learn_set(name, answer)

    async def enclave_for(self, name: str) -> bytes:
        """One enclave to seal a request for `name` to, at random from `enclave_set`."""
        return random.choice(await self.enclave_set(name))

    async def invoke(
        self, name: str, data: bytes, *, timeout_s: float = 30.0, failover: bool = True
    ) -> Invocation:
        """As `Client.invoke`."""
        tries = Attempts(name, timeout_s, self.on_retry, failover)
        refused: int | None = None
        while True:
            try:
                request = tries.request or tries.seal(
                    await self.function(name, refresh=refused is not None),
                    data,
                    await self.enclave_set(name, refresh=bool(tries.failed)),
                )
                args = self._invoke_args(request.envelope, tries.remaining)
                response = await self._call("POST", f"/v1/invoke/{name}", **args)
            except StaleVersion as exc:  # refused before it opened: sealing anew is safe
                refused = self._stale_again(exc, request.record, refused)
                tries.request = None
                continue
            except GatewayError as exc:
                wait = tries.refused(exc)
                if wait is None:
                    raise
                await asyncio.sleep(wait)
                continue
            return open_response(request, response.content, self.trust)

    async def enclaves(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = (await self._call("GET", "/v1/enclaves")).json()
        return listed

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

"""KMS and verifier clients over HTTP, behind the same interface as the in-process ones."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from veil.kms.errors import RemoteError, rebuild
from veil.registration import SealKey
from veil.trusted.crypto.signing import VerifyKey

CBOR = "application/cbor"


class ServiceUnavailable(ConnectionError):
    """No service answers at the configured URL."""

    def __init__(self, url: str, hint: str) -> None:
        super().__init__(f"no service at {url}: {hint}")
        self.url = url


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        payload = response.json()
        name, detail = payload["error"], payload["detail"]
    except (ValueError, KeyError, TypeError):
        raise RemoteError(f"HTTP {response.status_code}: {response.text[:200]}") from None
    raise rebuild(str(name), str(detail))


class RemoteTrust:
    """Talks to a `veil.kms.server` app: the KMS and the verifier (`veil.host.trust.TrustServices`).

    Refusals come back as the classes the server raised (`veil.kms.errors.KMS_ERRORS`).
    """

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)
        self._keys: dict[str, Any] | None = None

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError:
            raise ServiceUnavailable(self.url, "start one with `veil up`") from None
        _raise_for(response)
        return response

    def keys(self) -> dict[str, Any]:
        if self._keys is None:
            self._keys = self._request("GET", "/v1/keys").json()
        return self._keys

    @property
    def public_key(self) -> VerifyKey:
        return VerifyKey(bytes.fromhex(self.keys()["kms_key"]))

    @property
    def seal_key(self) -> SealKey:
        """The KMS's seal key, checked against its signing key (both from `/v1/keys`)."""
        return SealKey.from_json(self.keys()["kms_seal_key"], self.public_key)

    def verifier_keys(self) -> list[VerifyKey]:
        return [VerifyKey(bytes.fromhex(k)) for k in self.keys()["verifier_keys"]]

    def register_tenant(self, tenant: str, key: VerifyKey, admin_token: str) -> None:
        self._request(
            "POST",
            "/v1/tenants",
            json={"tenant": tenant, "key": key.raw.hex()},
            headers={"Authorization": f"Bearer {admin_token}"},
        )

    def register_function(self, registration: bytes) -> bytes:
        return self._request(
            "POST", "/v1/functions", content=registration, headers={"content-type": CBOR}
        ).content

    def function_record(self, name: str) -> bytes:
        return self._request("GET", f"/v1/functions/{name}").content

    def versions(self, name: str) -> bytes:
        return self._request("GET", f"/v1/versions/{name}").content

    def remove_function(self, removal: bytes) -> None:
        self._request("POST", "/v1/remove", content=removal, headers={"content-type": CBOR})

    def write_secret(self, write: bytes) -> dict[str, Any]:
        """Send a signed `veil.secret_request.SecretWrite`; the KMS answers its new version."""
        headers = {"content-type": CBOR}
        entry: dict[str, Any] = self._request(
            "POST", "/v1/secrets", content=write, headers=headers
        ).json()
        return entry

    def list_secrets(self, query: bytes) -> list[dict[str, Any]]:
        headers = {"content-type": CBOR}
        entries: list[dict[str, Any]] = self._request(
            "POST", "/v1/secrets/list", content=query, headers=headers
        ).json()
        return entries

    def release(self, key_request: bytes) -> bytes:
        return self._request(
            "POST", "/v1/release", content=key_request, headers={"content-type": CBOR}
        ).content

    def time_anchor(self, nonce: bytes) -> bytes:
        return self._request(
            "POST", "/v1/time", content=nonce, headers={"content-type": "application/octet-stream"}
        ).content

    def challenge(self) -> bytes:
        return self._request("POST", "/v1/attestation/challenge").content

    def attest(self, tee: str, evidence: bytes, binding: bytes, nonce: bytes) -> str:
        body = {
            "tee": tee,
            "evidence": base64.b64encode(evidence).decode(),
            "binding": base64.b64encode(binding).decode(),
            "nonce": base64.b64encode(nonce).decode(),
        }
        token: str = self._request("POST", "/v1/attestation/attest", json=body).json()["token"]
        return token

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteTrust:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

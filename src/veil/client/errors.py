"""What the SDK raises when the gateway refuses, fails, or is not there.

A refusal the gateway answers with (400, 403, 404) comes back as its own
class when it is one of the trusted core's or the verifiers' refusals
(`veil.attestation.refusals.REFUSALS`): those are the checks a tenant's
code can act on. Every other answer, including the KMS's and the host's own
refusals (classes the SDK does not import: the client is independent of
both), is a `GatewayError` that carries the class name as `kind`.
"""

from __future__ import annotations

import httpx

from veil.attestation.refusals import REFUSALS


class GatewayError(Exception):
    """The gateway answered with an error the SDK has no Veil error class for (429, 503 ...)."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(f"{kind} (HTTP {status}): {detail}")
        self.status, self.kind, self.detail = status, kind, detail


class GatewayUnavailable(ConnectionError):
    """No gateway answers at the client's URL."""

    def __init__(self, url: str) -> None:
        super().__init__(f"no gateway at {url}: start the platform with `veil up`")
        self.url = url


def check(response: httpx.Response) -> httpx.Response:
    """`response` if it succeeded; otherwise raise the refusal or `GatewayError` it carries."""
    if response.is_success:
        return response
    try:
        payload = response.json()
        kind, detail = str(payload["error"]), str(payload["detail"])
    except (ValueError, KeyError, TypeError):
        raise GatewayError(response.status_code, "HTTPError", response.text[:200]) from None
    refusal = REFUSALS.get(kind)
    if response.status_code in (400, 403, 404) and refusal is not None:
        raise refusal(detail)
    raise GatewayError(response.status_code, kind, detail)

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

    def __init__(
        self, status: int, kind: str, detail: str, retry_after_s: float | None = None
    ) -> None:
        super().__init__(f"{kind} (HTTP {status}): {detail}")
        self.status, self.kind, self.detail = status, kind, detail
        self.retry_after_s = retry_after_s
        """The gateway's `Retry-After`, in seconds, if it sent one."""


class SealKeyNotPinned(ValueError):
    """A deploy from a client whose trust anchors lack the KMS seal key: the code key and
    secrets would have nothing to be sealed to (pin it from the KMS's `/v1/keys`)."""


class GatewayUnavailable(ConnectionError):
    """No gateway answers at the client's URL."""

    def __init__(self, url: str) -> None:
        super().__init__(f"no gateway at {url}: start the platform with `veil up`")
        self.url = url


def check(response: httpx.Response) -> httpx.Response:
    """`response` if it succeeded; otherwise raise the refusal or `GatewayError` it carries."""
    if response.is_success:
        return response
    after = _retry_after(response)
    try:
        payload = response.json()
        kind, detail = str(payload["error"]), str(payload["detail"])
    except (ValueError, KeyError, TypeError):
        raise GatewayError(response.status_code, "HTTPError", response.text[:200], after) from None
    refusal = REFUSALS.get(kind)
    if response.status_code in (400, 403, 404) and refusal is not None:
        raise refusal(detail)
    raise GatewayError(response.status_code, kind, detail, after)


def _retry_after(response: httpx.Response) -> float | None:
    """`Retry-After` as seconds (the delay form; an HTTP date is ignored)."""
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None

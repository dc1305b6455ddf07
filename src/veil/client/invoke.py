"""Seal a request to a pinned function record; open and verify the response.

`open_response` returns output only after checking the whole chain: the
attestation result is signed by a trusted verifier and binds the trusted
KMS; the receipt is signed by the attested enclave key, that enclave is the
one the request named, and the receipt names this exact request, this exact
sealed response, and the pinned bundle digest; and the result opens under
the reply key only this request carried. A response is late, and refused,
if it arrives after the request's deadline by this client's clock, or if
the enclave's trusted clock says it served it after.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from veil.attestation.result import AttestationResult, TokenCache
from veil.client.trust import TrustAnchors
from veil.trusted.crypto import recipes
from veil.trusted.errors import Refused
from veil.trusted.wire.envelope import (
    REQUEST_ID_SIZE,
    ChainPosition,
    Metadata,
    RequestPayload,
    Response,
    open_result,
    request_hash,
    response_hash,
    seal_request,
)
from veil.trusted.wire.receipt import Receipt
from veil.trusted.wire.records import FunctionRecord


class ReceiptInvalid(Refused):
    """A response whose receipt or attestation does not prove what it must."""


class LateResponse(ReceiptInvalid):
    """A response that arrived, or was served, after its request's deadline: the host may
    have held the request or the response back; a caller that gave up on it must not use it."""


class RemoteFunctionError(Exception):
    """The function ran in the enclave and failed; `kind` is the sandbox's error class."""

    def __init__(self, kind: str, message: str, invocation: Invocation) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.invocation = invocation


@dataclass(frozen=True)
class SealedRequest:
    envelope: bytes
    meta: Metadata
    reply_key: bytes
    record: FunctionRecord

    @property
    def request_hash(self) -> bytes:
        return request_hash(self.envelope)


@dataclass(frozen=True)
class Invocation:
    ok: bool
    output: bytes
    logs: bytes
    error_kind: str
    error_message: str
    receipt: Receipt
    attestation: AttestationResult


def seal(
    record: FunctionRecord,
    data: bytes,
    *,
    enclave: bytes,
    timeout_s: float = 30.0,
    chain: ChainPosition | None = None,
) -> SealedRequest:
    """Seal `data` for `record`'s function, to run on the one enclave whose key id is `enclave`.

    Only that enclave serves it (any other refuses it, `WrongEnclave`), and its
    replay window lets it run once: the host cannot run it a second time elsewhere.
    """
    deadline_ms = int((time.time() + timeout_s) * 1000)
    rid = os.urandom(REQUEST_ID_SIZE)
    meta = Metadata(record.name, rid, deadline_ms, record.digest, record.version, enclave, chain)
    reply_key = recipes.new_symmetric_key()
    envelope = seal_request(record.suite, record.public_key, meta, RequestPayload(data, reply_key))
    return SealedRequest(envelope, meta, reply_key, record)


_TOKENS = TokenCache()
"""One per process: every client in it trusts tokens only under the keys they pass."""


def open_response(
    request: SealedRequest, response: bytes, trust: TrustAnchors, tokens: TokenCache = _TOKENS
) -> Invocation:
    """Verify everything, then return the invocation (ok or a function error)."""
    if time.time_ns() // 1_000_000 > request.meta.deadline_ms:
        raise LateResponse("response arrived after the request's deadline")
    resp = Response.from_bytes(response)
    if resp.request_id != request.meta.request_id:
        raise ReceiptInvalid("response answers another request")
    attestation = tokens.verify(resp.attestation, trust.verifier_keys, now=time.time())
    _check_attestation(attestation, trust)
    if attestation.enclave_key.key_id != request.meta.enclave:
        raise ReceiptInvalid("response is from another enclave than the request names")
    receipt = Receipt.verify(resp.receipt, attestation.enclave_key)
    expected = (
        request.record.name,
        request.meta.request_id,
        request.request_hash,
        response_hash(resp.sealed),
        request.record.digest,
        attestation.enclave_key.key_id,
    )
    actual = (
        receipt.function,
        receipt.request_id,
        receipt.request_hash,
        receipt.response_hash,
        receipt.bundle_digest,
        receipt.enclave_key_id,
    )
    if expected != actual:
        raise ReceiptInvalid("receipt does not match this request, response and bundle")
    if receipt.served_ms > request.meta.deadline_ms:
        raise LateResponse("the enclave served the request after its deadline")
    result = open_result(request.reply_key, request.request_hash, resp.sealed)
    if result.ok != receipt.ok:
        raise ReceiptInvalid("receipt and result disagree")
    return Invocation(
        result.ok,
        result.output,
        result.logs,
        result.error_kind,
        result.error_message,
        receipt,
        attestation,
    )


def _check_attestation(attestation: AttestationResult, trust: TrustAnchors) -> None:
    if attestation.binding.kms_key != trust.kms_key.raw:
        raise ReceiptInvalid("enclave trusts another KMS")
    if attestation.tee == "sim" and not trust.allow_sim:
        raise ReceiptInvalid("receipt is from a sim enclave, which proves nothing about hardware")
    if trust.measurements and attestation.measurement not in trust.measurements:
        raise ReceiptInvalid("enclave measurement is not one this client accepts")


def result_or_raise(invocation: Invocation) -> bytes:
    if not invocation.ok:
        raise RemoteFunctionError(invocation.error_kind, invocation.error_message, invocation)
    return invocation.output

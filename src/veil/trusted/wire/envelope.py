"""Request envelopes and sealed responses.

An envelope is plaintext routing metadata plus an HPKE-sealed payload. The
canonical CBOR of the metadata is the HPKE `info`, so the host can read and
route on it but any change makes the payload fail to open. The payload
carries the input and a fresh reply key; the response is AES-256-GCM under
that key, bound to the hash of the exact envelope it answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from veil.trusted.crypto import hazmat, recipes
from veil.trusted.crypto.digest import sha256
from veil.trusted.errors import MalformedMessage
from veil.trusted.wire import cbor

VERSION: Final = 2
REQUEST_ID_SIZE: Final = 16
ENCLAVE_ID_SIZE: Final = 32
MAX_ENVELOPE: Final = 16 * 1024 * 1024 + 4096
MAX_RESPONSE: Final = 16 * 1024 * 1024 + 8192
_REQUEST_INFO: Final = b"veil/request/v1\x00"
_RESPONSE_AAD: Final = b"veil/response/v1\x00"
_PAYLOAD: Final = {"input": bytes, "reply_key": bytes}
_RESPONSE: Final = {"rid": bytes, "sealed": bytes, "receipt": bytes, "attestation": str}


@dataclass(frozen=True)
class ChainPosition:
    """Where this request sits in a chain; bound into the HPKE info like all metadata."""

    chain_id: bytes
    step: int
    descriptor_hash: bytes

    def to_obj(self) -> dict[str, Any]:
        return {"id": self.chain_id, "desc": self.descriptor_hash, "step": self.step}


@dataclass(frozen=True)
class Metadata:
    function: str
    request_id: bytes
    deadline_ms: int
    digest: bytes
    """The bundle digest and version of the function record the client sealed to."""
    version: int
    enclave: bytes
    """The key id of the one enclave this request is for: any other refuses it (`WrongEnclave`)."""
    chain: ChainPosition | None = None

    def to_obj(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"v": VERSION, "fn": self.function, "rid": self.request_id}
        obj["ver"] = self.version
        if self.chain is not None:
            obj["chain"] = self.chain.to_obj()
        obj["digest"] = self.digest
        obj["enclave"] = self.enclave
        obj["deadline"] = self.deadline_ms
        return obj

    @classmethod
    def from_obj(cls, obj: object) -> Metadata:
        fields = {"v": int, "fn": str, "rid": bytes, "deadline": int, "digest": bytes, "ver": int}
        m = cbor.check_map(obj, {**fields, "enclave": bytes, "chain?": dict})
        if m["v"] != VERSION:
            raise MalformedMessage(f"unsupported envelope version {m['v']}")
        if len(m["rid"]) != REQUEST_ID_SIZE or len(m["digest"]) != 32 or m["ver"] < 1:
            raise MalformedMessage("request id, digest or version has the wrong size")
        if len(m["enclave"]) != ENCLAVE_ID_SIZE:
            raise MalformedMessage("enclave key id must be 32 bytes")
        if not 0 < len(m["fn"]) <= 128 or m["deadline"] < 0:
            raise MalformedMessage("bad function name or deadline")
        chain = None
        if "chain" in m:
            c = cbor.check_map(m["chain"], {"id": bytes, "step": int, "desc": bytes})
            if len(c["id"]) != 16 or len(c["desc"]) != 32 or not 0 <= c["step"] < 1024:
                raise MalformedMessage("bad chain position")
            chain = ChainPosition(c["id"], c["step"], c["desc"])
        return cls(m["fn"], m["rid"], m["deadline"], m["digest"], m["ver"], m["enclave"], chain)

    def info(self) -> bytes:
        return _REQUEST_INFO + cbor.encode_ordered(self.to_obj())


@dataclass(frozen=True)
class Envelope:
    """What crosses the host: metadata in the clear, everything else sealed."""

    meta: Metadata
    sealed: bytes

    def to_bytes(self) -> bytes:
        return cbor.encode({"meta": self.meta.to_obj(), "sealed": self.sealed})

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        m = cbor.decode_map(
            data,
            limit=MAX_ENVELOPE,
            fields={"meta": dict, "sealed": bytes},
            canonical=False,
            items=32,
        )
        return cls(Metadata.from_obj(m["meta"]), m["sealed"])


@dataclass(frozen=True)
class RequestPayload:
    """The sealed part of a request."""

    input: bytes
    reply_key: bytes

    def to_bytes(self) -> bytes:
        return cbor.encode({"input": self.input, "reply_key": self.reply_key})

    @classmethod
    def from_bytes(cls, data: bytes) -> RequestPayload:
        m = cbor.decode_map(data, limit=MAX_ENVELOPE, fields=_PAYLOAD, canonical=False, items=8)
        if len(m["reply_key"]) != hazmat.AEAD_KEY_SIZE:
            raise MalformedMessage("reply key must be 32 bytes")
        return cls(m["input"], m["reply_key"])


def seal_request(
    suite: hazmat.Suite, public_key: bytes, meta: Metadata, payload: RequestPayload
) -> bytes:
    """The envelope bytes for `payload`, sealed to a function's public key."""
    sealed = recipes.seal_request(suite, public_key, payload.to_bytes(), meta.info())
    return Envelope(meta, sealed).to_bytes()


def open_request(key: hazmat.HpkePrivateKey, envelope: Envelope) -> RequestPayload:
    return RequestPayload.from_bytes(
        recipes.open_request(key, envelope.sealed, envelope.meta.info())
    )


@dataclass(frozen=True)
class Result:
    """The sealed part of a response: output or a function error, and captured logs."""

    ok: bool
    output: bytes = b""
    error_kind: str = ""
    error_message: str = ""
    logs: bytes = b""

    def to_bytes(self) -> bytes:
        return cbor.encode_ordered(
            {
                "ok": self.ok,
                "logs": self.logs,
                "error": {"kind": self.error_kind, "message": self.error_message},
                "output": self.output,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Result:
        m = cbor.decode_map(
            data,
            limit=MAX_RESPONSE,
            fields={"ok": bool, "output": bytes, "error": dict, "logs": bytes},
            items=16,
        )
        err = cbor.check_map(m["error"], {"kind": str, "message": str})
        return cls(m["ok"], m["output"], err["kind"], err["message"], m["logs"])


def response_aad(request_hash: bytes) -> bytes:
    return _RESPONSE_AAD + request_hash


def seal_result(reply_key: bytes, request_hash: bytes, result: Result) -> bytes:
    return recipes.seal_reply(reply_key, result.to_bytes(), response_aad(request_hash))


def open_result(reply_key: bytes, request_hash: bytes, sealed: bytes) -> Result:
    return Result.from_bytes(recipes.open_reply(reply_key, sealed, response_aad(request_hash)))


def log_info(fn: str, version: int, rid: bytes, served_ms: int, enclave: bytes) -> bytes:
    """HPKE info of a sealed log entry: one invocation of one version, served when and where."""
    return b"veil/log/v1\x00" + cbor.encode([fn, version, rid, served_ms, enclave])


def request_hash(envelope_bytes: bytes) -> bytes:
    return sha256(b"veil/request-hash/v1\x00", envelope_bytes)


def response_hash(sealed: bytes) -> bytes:
    return sha256(b"veil/response-hash/v1\x00", sealed)


@dataclass(frozen=True)
class Response:
    """Sealed result, receipt, and the attestation token: clients check the signer at once."""

    request_id: bytes
    sealed: bytes
    receipt: bytes
    attestation: str
    log: bytes = b""  # what it printed, sealed to the tenant (`log_info`); the host keeps it

    def to_bytes(self) -> bytes:
        return cbor.encode_ordered(
            {
                **({"log": self.log} if self.log else {}),
                "rid": self.request_id,
                "sealed": self.sealed,
                "receipt": self.receipt,
                "attestation": self.attestation,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Response:
        m = cbor.decode_map(
            data,
            limit=MAX_RESPONSE,
            fields={**_RESPONSE, "log?": bytes},
            items=16,
        )
        return cls(m["rid"], m["sealed"], m["receipt"], m["attestation"], m.get("log", b""))

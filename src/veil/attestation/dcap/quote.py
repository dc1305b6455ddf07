"""Parse Intel DCAP quotes: SGX version 3, TDX versions 4 and 5.

Parsing only splits bytes into fields and checks lengths; it trusts nothing.
What each part proves is checked in `checks`. A quote may be followed by
zero padding (configfs-tsm and some quote providers return a fixed-size
buffer); any other trailing byte is refused, so nothing unsigned rides along.

Layout (all little-endian):

    header (48): version u16, attestation key type u16, TEE type u32,
                 QE SVN u16, PCE SVN u16, QE vendor id (16), user data (20)
    v3, v4: body (384 SGX / 584 TD 1.0)
    v5:     body type u16, body size u32, body (584 TD 1.0 / 648 TD 1.5)
    signature data size u32, then
      v3:     signature (64) | attestation key (64) | QE report (384) |
              QE report signature (64) | QE auth data (u16 + n) |
              certification data (type u16, size u32, data)
      v4, v5: signature (64) | attestation key (64) |
              certification data type 6 = QE report certification data:
              QE report | QE report signature | QE auth data | certification data
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from dataclasses import dataclass
from typing import Literal

from veil.attestation.dcap.errors import UnsupportedQuote
from veil.attestation.dcap.reports import (
    SGX_REPORT_BODY_SIZE,
    TD10_REPORT_BODY_SIZE,
    TD15_REPORT_BODY_SIZE,
    SgxReportBody,
    TdReportBody,
)
from veil.attestation.errors import MalformedEvidence

HEADER_SIZE = 48
ECDSA_P256 = 2
TEE_SGX = 0x00000000
TEE_TDX = 0x00000081
CERT_DATA_PCK_CHAIN = 5
CERT_DATA_QE_REPORT = 6
INTEL_QE_VENDOR_ID = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")

BodyKind = Literal["sgx", "td10", "td15"]

_PEM_CHAIN = re.compile(
    rb"(?:-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\r?\n?)+"
)
"""PEM certificates and line breaks only: the chain is not signed as a whole, so no byte of
it may vary without changing a certificate (and so breaking a signature)."""
_PEM_BODY = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END CERTIFICATE-----"
)


@dataclass(frozen=True)
class QuoteHeader:
    version: int
    attestation_key_type: int
    tee_type: int
    qe_svn: int
    pce_svn: int
    qe_vendor_id: bytes
    user_data: bytes


@dataclass(frozen=True)
class QeCertification:
    """What the quoting enclave adds: its report, signed by the PCK key, and the PCK chain."""

    qe_report_raw: bytes
    qe_report: SgxReportBody
    qe_report_signature: bytes
    qe_auth_data: bytes
    pck_chain_pem: bytes


@dataclass(frozen=True)
class Quote:
    header: QuoteHeader
    body_kind: BodyKind
    body_raw: bytes
    signed_region: bytes
    signature: bytes
    attestation_key: bytes
    certification: QeCertification

    @property
    def sgx_body(self) -> SgxReportBody:
        if self.body_kind != "sgx":
            raise MalformedEvidence("not an SGX quote")
        return SgxReportBody.parse(self.body_raw)

    @property
    def td_body(self) -> TdReportBody:
        if self.body_kind == "sgx":
            raise MalformedEvidence("not a TDX quote")
        return TdReportBody.parse(self.body_raw)


class _Reader:
    """Sequential little-endian reads that fail as MalformedEvidence, never IndexError."""

    def __init__(self, data: bytes, offset: int = 0, end: int | None = None) -> None:
        self.data = data
        self.offset = offset
        self.end = len(data) if end is None else end

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.offset + n > self.end:
            raise MalformedEvidence(f"quote truncated in {what}")
        chunk = self.data[self.offset : self.offset + n]
        self.offset += n
        return chunk

    def u16(self, what: str) -> int:
        return int(struct.unpack("<H", self.take(2, what))[0])

    def u32(self, what: str) -> int:
        return int(struct.unpack("<I", self.take(4, what))[0])


def parse_quote(data: bytes) -> Quote:
    """Split a DCAP quote into its parts; raise MalformedEvidence/UnsupportedQuote otherwise."""
    reader = _Reader(data)
    header = _parse_header(reader)
    body_start = reader.offset
    body_kind, body_raw = _parse_body(reader, header)
    signed_region = data[: reader.offset]
    assert body_start == HEADER_SIZE
    signature_size = reader.u32("signature data size")
    sig = _Reader(data, reader.offset, reader.offset + signature_size)
    if sig.end > len(data):
        raise MalformedEvidence("quote truncated in signature data")
    signature = sig.take(64, "quote signature")
    attestation_key = sig.take(64, "attestation key")
    if header.version == 3:
        certification = _parse_qe_certification(sig)
    else:
        cert_type = sig.u16("certification data type")
        cert_size = sig.u32("certification data size")
        if cert_type != CERT_DATA_QE_REPORT:
            raise UnsupportedQuote(f"outer certification data type {cert_type}, expected 6")
        inner = _Reader(data, sig.offset, sig.offset + cert_size)
        if inner.end > sig.end:
            raise MalformedEvidence("quote truncated in QE report certification data")
        certification = _parse_qe_certification(inner)
        _expect_consumed(inner, "QE report certification data")
        sig.offset = inner.end
    _expect_consumed(sig, "signature data")
    if any(data[sig.end :]):
        raise MalformedEvidence("non-zero bytes after the quote")
    return Quote(
        header=header,
        body_kind=body_kind,
        body_raw=body_raw,
        signed_region=signed_region,
        signature=signature,
        attestation_key=attestation_key,
        certification=certification,
    )


def _parse_header(reader: _Reader) -> QuoteHeader:
    version = reader.u16("header")
    key_type = reader.u16("header")
    tee_type = reader.u32("header")
    qe_svn = reader.u16("header")
    pce_svn = reader.u16("header")
    vendor = reader.take(16, "header")
    user_data = reader.take(20, "header")
    if version not in (3, 4, 5):
        raise UnsupportedQuote(f"quote version {version}; Veil verifies 3 (SGX), 4 and 5 (TDX)")
    if key_type != ECDSA_P256:
        raise UnsupportedQuote(f"attestation key type {key_type}; only ECDSA P-256 (2)")
    if version == 3 and tee_type != TEE_SGX:
        raise UnsupportedQuote("version 3 quotes are SGX quotes")
    if version >= 4 and tee_type not in (TEE_SGX, TEE_TDX):
        raise UnsupportedQuote(f"TEE type 0x{tee_type:x}")
    if tee_type == TEE_SGX and version != 3:
        raise UnsupportedQuote("Veil verifies SGX quotes of version 3 only")
    if vendor != INTEL_QE_VENDOR_ID:
        raise UnsupportedQuote("QE vendor is not Intel")
    return QuoteHeader(version, key_type, tee_type, qe_svn, pce_svn, vendor, user_data)


def _parse_body(reader: _Reader, header: QuoteHeader) -> tuple[BodyKind, bytes]:
    if header.version == 3:
        return "sgx", reader.take(SGX_REPORT_BODY_SIZE, "SGX report body")
    if header.version == 4:
        return "td10", reader.take(TD10_REPORT_BODY_SIZE, "TD report body")
    body_type = reader.u16("body type")
    body_size = reader.u32("body size")
    expected = {2: TD10_REPORT_BODY_SIZE, 3: TD15_REPORT_BODY_SIZE}.get(body_type)
    if expected is None:
        raise UnsupportedQuote(f"v5 body type {body_type}; expected 2 (TD 1.0) or 3 (TD 1.5)")
    if body_size != expected:
        raise MalformedEvidence(f"v5 body size {body_size}, expected {expected}")
    return ("td10" if body_type == 2 else "td15"), reader.take(body_size, "TD report body")


def _parse_qe_certification(reader: _Reader) -> QeCertification:
    qe_report_raw = reader.take(SGX_REPORT_BODY_SIZE, "QE report")
    qe_report_signature = reader.take(64, "QE report signature")
    auth_size = reader.u16("QE auth data size")
    qe_auth_data = reader.take(auth_size, "QE auth data")
    cert_type = reader.u16("certification data type")
    cert_size = reader.u32("certification data size")
    cert_data = reader.take(cert_size, "certification data")
    if cert_type != CERT_DATA_PCK_CHAIN:
        raise UnsupportedQuote(
            f"certification data type {cert_type}; only 5 (PCK chain in the quote) is verifiable "
            "offline"
        )
    chain = cert_data[:-1] if cert_data.endswith(b"\x00") else cert_data
    if not _PEM_CHAIN.fullmatch(chain) or not _canonical_base64(chain):
        raise MalformedEvidence("certification data is not a PEM certificate chain")
    return QeCertification(
        qe_report_raw=qe_report_raw,
        qe_report=SgxReportBody.parse(qe_report_raw),
        qe_report_signature=qe_report_signature,
        qe_auth_data=qe_auth_data,
        pck_chain_pem=chain,
    )


def _canonical_base64(chain: bytes) -> bool:
    """Each PEM body re-encodes to itself: no ignored trailing bits or stray padding."""
    for block in _PEM_BODY.findall(chain):
        text = block.replace(b"\r", b"").replace(b"\n", b"")
        try:
            decoded = base64.b64decode(text, validate=True)
        except binascii.Error:
            return False
        if base64.b64encode(decoded) != text:
            return False
    return True


def _expect_consumed(reader: _Reader, what: str) -> None:
    if reader.offset != reader.end:
        raise MalformedEvidence(
            f"{reader.end - reader.offset} unexpected bytes at the end of {what}"
        )

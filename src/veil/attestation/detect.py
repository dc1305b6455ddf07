"""Tell SGX, TDX and SNP evidence apart from its first bytes (for operators' tools only).

Verification never relies on this: each verifier re-checks its own format.
Accepts hex text too (the form AMD tooling and virtee/sev print reports in).
"""

from __future__ import annotations

import string
import struct

from veil.attestation.errors import MalformedEvidence

_HEX = set(string.hexdigits.encode() + string.whitespace.encode())


def evidence_bytes(raw: bytes) -> bytes:
    """The evidence in `raw`, decoding it first if it is hex text."""
    if raw and set(raw) <= _HEX:
        try:
            return bytes.fromhex(raw.decode())
        except ValueError:
            pass
    return raw


def detect_tee(evidence: bytes) -> str:
    """ "sgx", "tdx" or "snp"; MalformedEvidence if it looks like none of them."""
    if len(evidence) >= 8:
        version, key_type, tee_type = struct.unpack_from("<HHI", evidence, 0)
        if version == 3 and key_type == 2 and tee_type == 0:
            return "sgx"
        if version in (4, 5) and key_type == 2 and tee_type == 0x81:
            return "tdx"
    if len(evidence) == 0x4A0:
        (report_version,) = struct.unpack_from("<I", evidence, 0)
        if 2 <= report_version <= 16:
            return "snp"
    raise MalformedEvidence("not an SGX quote v3, a TDX quote v4/v5 or an SNP report")

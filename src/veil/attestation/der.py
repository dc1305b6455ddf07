"""A small DER reader for the vendor extensions X.509 libraries leave opaque.

Intel's PCK certificates carry their SGX TCB (FMSPC, PCE ID, component SVNs,
PCE SVN) and AMD's VCEK/VLEK certificates their TCB and chip id as DER in
private extensions. `cryptography` hands those over as raw bytes; this
module reads the handful of universal types they use (SEQUENCE, OID,
INTEGER, ENUMERATED, OCTET STRING, IA5String) and nothing more. Only
definite lengths are accepted, as DER requires.
"""

from __future__ import annotations

from dataclasses import dataclass

SEQUENCE = 0x30
OID = 0x06
INTEGER = 0x02
ENUMERATED = 0x0A
OCTET_STRING = 0x04
IA5_STRING = 0x16


class DerError(ValueError):
    """Bytes that are not the DER value they were expected to be."""


@dataclass(frozen=True)
class Tlv:
    """One tag-length-value element."""

    tag: int
    value: bytes


def read_all(data: bytes) -> list[Tlv]:
    """Split `data` into consecutive TLVs; it must hold nothing else."""
    items: list[Tlv] = []
    offset = 0
    while offset < len(data):
        tlv, offset = _read_one(data, offset)
        items.append(tlv)
    return items


def read_single(data: bytes, tag: int) -> Tlv:
    """Exactly one TLV, with the expected tag."""
    items = read_all(data)
    if len(items) != 1 or items[0].tag != tag:
        raise DerError(f"expected one element with tag 0x{tag:02x}")
    return items[0]


def _read_one(data: bytes, offset: int) -> tuple[Tlv, int]:
    if offset + 2 > len(data):
        raise DerError("truncated TLV header")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise DerError("multi-byte tags are not used by these extensions")
    first = data[offset + 1]
    offset += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or offset + count > len(data):
            raise DerError("bad length of length")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
        if length < 0x80 or (count > 1 and data[offset - count] == 0):
            raise DerError("length not minimally encoded")
    end = offset + length
    if end > len(data):
        raise DerError("truncated TLV value")
    return Tlv(tag, data[offset:end]), end


def decode_oid(value: bytes) -> str:
    """Dotted-decimal form of an OBJECT IDENTIFIER's content octets."""
    if not value or value[-1] & 0x80:
        raise DerError("bad OID encoding")
    arcs: list[int] = []
    current = 0
    for byte in value:
        if current == 0 and byte == 0x80:
            raise DerError("OID arc not minimally encoded")
        current = (current << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(current)
            current = 0
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def decode_int(value: bytes) -> int:
    """A non-negative INTEGER/ENUMERATED; the extensions hold no negative SVNs."""
    if not value:
        raise DerError("empty INTEGER")
    if len(value) > 1 and value[0] == 0 and not value[1] & 0x80:
        raise DerError("INTEGER not minimally encoded")
    number = int.from_bytes(value, "big", signed=True)
    if number < 0:
        raise DerError("negative INTEGER where an SVN was expected")
    return number


def oid_value_pairs(sequence_content: bytes) -> dict[str, Tlv]:
    """Read `SEQUENCE OF SEQUENCE { OID, value }` into a dict by dotted OID."""
    pairs: dict[str, Tlv] = {}
    for item in read_all(sequence_content):
        if item.tag != SEQUENCE:
            raise DerError("expected SEQUENCE { OID, value }")
        parts = read_all(item.value)
        if len(parts) != 2 or parts[0].tag != OID:
            raise DerError("expected SEQUENCE { OID, value }")
        oid = decode_oid(parts[0].value)
        if oid in pairs:
            raise DerError(f"duplicate OID {oid}")
        pairs[oid] = parts[1]
    return pairs

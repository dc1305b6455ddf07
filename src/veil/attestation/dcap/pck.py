"""The SGX extensions of a PCK certificate: what Intel certified about the platform.

OID 1.2.840.113741.1.13.1 holds a SEQUENCE of (OID, value) pairs; its `.2`
member is itself such a sequence of the 16 TCB component SVNs (`.2.1` ..
`.2.16`), the PCE SVN (`.2.17`) and the CPU SVN (`.2.18`). TCB matching
uses these, not the quote's header, because Intel signed them.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509

from veil.attestation import der
from veil.attestation.dcap.errors import PckExtensionsInvalid

SGX_EXTENSIONS_OID = "1.2.840.113741.1.13.1"
_PPID = SGX_EXTENSIONS_OID + ".1"
_TCB = SGX_EXTENSIONS_OID + ".2"
_PCEID = SGX_EXTENSIONS_OID + ".3"
_FMSPC = SGX_EXTENSIONS_OID + ".4"
_SGX_TYPE = SGX_EXTENSIONS_OID + ".5"


@dataclass(frozen=True)
class PckExtensions:
    ppid: bytes
    components: tuple[int, ...]
    pce_svn: int
    cpu_svn: bytes
    pce_id: bytes
    fmspc: bytes
    sgx_type: int


def pck_extensions(cert: x509.Certificate) -> PckExtensions:
    """Read the SGX extensions of `cert`; PckExtensionsInvalid if absent or malformed."""
    try:
        ext = cert.extensions.get_extension_for_oid(x509.ObjectIdentifier(SGX_EXTENSIONS_OID))
    except x509.ExtensionNotFound:
        raise PckExtensionsInvalid("PCK certificate has no SGX extensions") from None
    except ValueError:  # parsed lazily by cryptography; a corrupt extension surfaces here
        raise PckExtensionsInvalid("PCK certificate extensions do not parse") from None
    value = ext.value
    if not isinstance(value, x509.UnrecognizedExtension):
        raise PckExtensionsInvalid("SGX extensions parsed as a known extension")
    try:
        return parse_sgx_extensions(value.value)
    except der.DerError as exc:
        raise PckExtensionsInvalid(f"SGX extensions do not parse: {exc}") from None


def parse_sgx_extensions(value: bytes) -> PckExtensions:
    """Parse the DER value of the SGX extensions (raises der.DerError or PckExtensionsInvalid)."""
    top = der.oid_value_pairs(der.read_single(value, der.SEQUENCE).value)
    tcb_tlv = _member(top, _TCB, der.SEQUENCE)
    tcb = der.oid_value_pairs(tcb_tlv.value)
    components = tuple(
        _svn(_member(tcb, f"{_TCB}.{i}", der.INTEGER).value, 255) for i in range(1, 17)
    )
    pce_svn = _svn(_member(tcb, f"{_TCB}.17", der.INTEGER).value, 0xFFFF)
    cpu_svn = _member(tcb, f"{_TCB}.18", der.OCTET_STRING).value
    ppid = _member(top, _PPID, der.OCTET_STRING).value
    pce_id = _member(top, _PCEID, der.OCTET_STRING).value
    fmspc = _member(top, _FMSPC, der.OCTET_STRING).value
    sgx_type = der.decode_int(_member(top, _SGX_TYPE, der.ENUMERATED).value)
    if len(cpu_svn) != 16 or len(pce_id) != 2 or len(fmspc) != 6 or len(ppid) != 16:
        raise PckExtensionsInvalid("SGX extension field of the wrong length")
    return PckExtensions(ppid, components, pce_svn, cpu_svn, pce_id, fmspc, sgx_type)


def _member(pairs: dict[str, der.Tlv], oid: str, tag: int) -> der.Tlv:
    tlv = pairs.get(oid)
    if tlv is None or tlv.tag != tag:
        raise PckExtensionsInvalid(f"SGX extension {oid} missing or of the wrong type")
    return tlv


def _svn(value: bytes, limit: int) -> int:
    number = der.decode_int(value)
    if number > limit:
        raise PckExtensionsInvalid(f"SVN {number} out of range")
    return number

"""Parse an AMD SEV-SNP attestation report (SEV-SNP ABI spec, table "ATTESTATION_REPORT").

1184 bytes, little-endian; the signature (ECDSA P-384, r and s as 72-byte
little-endian integers) at 0x2A0 covers bytes [0, 0x2A0). Versions 2 and
later share this layout (v3 adds CPUID family/model/stepping at 0x188, v5
more launch information in reserved space); version 1 is refused. The
reserved tail of the signature field must be zero, so that no byte of a
report can change without it being refused.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from veil.attestation.errors import MalformedEvidence
from veil.attestation.snp.errors import UnsupportedReport

REPORT_SIZE = 0x4A0
SIGNED_SIZE = 0x2A0
SIGNATURE_END = 0x330
"""r (72) and s (72) end here; the rest of the 512-byte signature field is reserved, zero."""
ECDSA_P384_SHA384 = 1
POLICY_DEBUG = 1 << 19
"""Guest policy bit 19: the hypervisor may debug the guest (read its memory)."""

SIGNING_KEY_VCEK = 0
SIGNING_KEY_VLEK = 1


@dataclass(frozen=True)
class TcbVersion:
    """One TCB_VERSION: the security patch levels of each firmware component."""

    bootloader: int
    tee: int
    snp: int
    microcode: int
    fmc: int | None = None

    @classmethod
    def parse(cls, raw: bytes, *, turin: bool = False) -> TcbVersion:
        """Milan/Genoa: BL, TEE, 4 reserved, SNP, UCODE; Turin: FMC, BL, TEE, SNP, 3 reserved,
        UCODE."""
        if turin:
            return cls(bootloader=raw[1], tee=raw[2], snp=raw[3], microcode=raw[7], fmc=raw[0])
        return cls(bootloader=raw[0], tee=raw[1], snp=raw[6], microcode=raw[7])


@dataclass(frozen=True)
class AttestationReport:
    raw: bytes
    version: int
    guest_svn: int
    policy: int
    family_id: bytes
    image_id: bytes
    vmpl: int
    signature_algo: int
    current_tcb_raw: bytes
    platform_info: int
    key_info: int
    report_data: bytes
    measurement: bytes
    host_data: bytes
    id_key_digest: bytes
    author_key_digest: bytes
    report_id: bytes
    report_id_ma: bytes
    reported_tcb_raw: bytes
    chip_id: bytes
    committed_tcb_raw: bytes
    launch_tcb_raw: bytes
    signature_r: int
    signature_s: int

    @property
    def signed_region(self) -> bytes:
        return self.raw[:SIGNED_SIZE]

    @property
    def debug(self) -> bool:
        return bool(self.policy & POLICY_DEBUG)

    @property
    def signing_key(self) -> int:
        """0 = VCEK, 1 = VLEK, 7 = none (bits 2-4 of the key information word)."""
        return (self.key_info >> 2) & 0x7

    @property
    def chip_id_masked(self) -> bool:
        return bool(self.key_info & 0x2)


def parse_report(data: bytes) -> AttestationReport:
    """Split a report into its fields; MalformedEvidence/UnsupportedReport otherwise."""
    if len(data) != REPORT_SIZE:
        raise MalformedEvidence(f"an SNP report is {REPORT_SIZE} bytes, got {len(data)}")
    version, guest_svn, policy = struct.unpack_from("<IIQ", data, 0)
    if version < 2:
        raise UnsupportedReport(f"SNP report version {version}; Veil verifies version 2 and later")
    vmpl, signature_algo = struct.unpack_from("<II", data, 0x30)
    if signature_algo != ECDSA_P384_SHA384:
        raise UnsupportedReport(f"signature algorithm {signature_algo}; only ECDSA P-384 (1)")
    if any(data[SIGNATURE_END:]):
        raise MalformedEvidence("reserved bytes after the signature are not zero")
    (platform_info,) = struct.unpack_from("<Q", data, 0x40)
    (key_info,) = struct.unpack_from("<I", data, 0x48)
    return AttestationReport(
        raw=data,
        version=version,
        guest_svn=guest_svn,
        policy=policy,
        family_id=data[0x10:0x20],
        image_id=data[0x20:0x30],
        vmpl=vmpl,
        signature_algo=signature_algo,
        current_tcb_raw=data[0x38:0x40],
        platform_info=platform_info,
        key_info=key_info,
        report_data=data[0x50:0x90],
        measurement=data[0x90:0xC0],
        host_data=data[0xC0:0xE0],
        id_key_digest=data[0xE0:0x110],
        author_key_digest=data[0x110:0x140],
        report_id=data[0x140:0x160],
        report_id_ma=data[0x160:0x180],
        reported_tcb_raw=data[0x180:0x188],
        chip_id=data[0x1A0:0x1E0],
        committed_tcb_raw=data[0x1E0:0x1E8],
        launch_tcb_raw=data[0x1F0:0x1F8],
        signature_r=int.from_bytes(data[0x2A0:0x2E8], "little"),
        signature_s=int.from_bytes(data[0x2E8:0x330], "little"),
    )

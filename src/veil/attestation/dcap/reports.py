"""The report bodies a DCAP quote carries: the SGX enclave report and the TD reports.

Layouts follow Intel's "SGX ECDSA Quote Library API" (SGX report body,
384 bytes) and "TDX DCAP Quote Generation" (TD report 1.0, 584 bytes; 1.5,
648 bytes). All integers are little-endian.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

SGX_REPORT_BODY_SIZE = 384
TD10_REPORT_BODY_SIZE = 584
TD15_REPORT_BODY_SIZE = 648

SGX_ATTRIBUTE_DEBUG = 0x02
"""Bit 1 of the SGX ATTRIBUTES flags: the enclave can be debugged (its memory read)."""

TD_ATTRIBUTE_DEBUG = 0x01
"""Bit 0 of TDATTRIBUTES (TUD.DEBUG): the TD is debuggable by the host."""


@dataclass(frozen=True)
class SgxReportBody:
    """An SGX enclave report (also the QE's own report inside every quote)."""

    cpu_svn: bytes
    misc_select: int
    attributes: bytes
    mr_enclave: bytes
    mr_signer: bytes
    isv_prod_id: int
    isv_svn: int
    report_data: bytes

    @property
    def debug(self) -> bool:
        return bool(self.attributes[0] & SGX_ATTRIBUTE_DEBUG)

    @classmethod
    def parse(cls, raw: bytes) -> SgxReportBody:
        if len(raw) != SGX_REPORT_BODY_SIZE:
            raise ValueError(f"SGX report body is {SGX_REPORT_BODY_SIZE} bytes, got {len(raw)}")
        (misc_select,) = struct.unpack_from("<I", raw, 16)
        isv_prod_id, isv_svn = struct.unpack_from("<HH", raw, 256)
        return cls(
            cpu_svn=raw[0:16],
            misc_select=misc_select,
            attributes=raw[48:64],
            mr_enclave=raw[64:96],
            mr_signer=raw[128:160],
            isv_prod_id=isv_prod_id,
            isv_svn=isv_svn,
            report_data=raw[320:384],
        )


@dataclass(frozen=True)
class TdReportBody:
    """A TD report (1.0, or 1.5 with TEE_TCB_SVN2 and MRSERVICETD)."""

    tee_tcb_svn: bytes
    mr_seam: bytes
    mr_signer_seam: bytes
    seam_attributes: bytes
    td_attributes: bytes
    xfam: bytes
    mr_td: bytes
    mr_config_id: bytes
    mr_owner: bytes
    mr_owner_config: bytes
    rtmrs: tuple[bytes, bytes, bytes, bytes]
    report_data: bytes
    tee_tcb_svn2: bytes | None = None
    mr_service_td: bytes | None = None

    @property
    def debug(self) -> bool:
        return bool(self.td_attributes[0] & TD_ATTRIBUTE_DEBUG)

    @classmethod
    def parse(cls, raw: bytes) -> TdReportBody:
        if len(raw) not in (TD10_REPORT_BODY_SIZE, TD15_REPORT_BODY_SIZE):
            raise ValueError(f"TD report body is 584 or 648 bytes, got {len(raw)}")
        is_15 = len(raw) == TD15_REPORT_BODY_SIZE
        return cls(
            tee_tcb_svn=raw[0:16],
            mr_seam=raw[16:64],
            mr_signer_seam=raw[64:112],
            seam_attributes=raw[112:120],
            td_attributes=raw[120:128],
            xfam=raw[128:136],
            mr_td=raw[136:184],
            mr_config_id=raw[184:232],
            mr_owner=raw[232:280],
            mr_owner_config=raw[280:328],
            rtmrs=(raw[328:376], raw[376:424], raw[424:472], raw[472:520]),
            report_data=raw[520:584],
            tee_tcb_svn2=raw[584:600] if is_15 else None,
            mr_service_td=raw[600:648] if is_15 else None,
        )

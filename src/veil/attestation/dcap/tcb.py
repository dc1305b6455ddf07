"""Intel's TCB-level matching: from certified SVNs to a TCB status and advisories.

The platform level is the first level in the TCB info (Intel lists them
best first) whose every component SVN and PCE SVN the platform meets; the
QE's level is the first QE identity level at or below its ISV SVN. For TDX,
TEE_TCB_SVN is matched against the TDX components, and the TDX module's
own identity (chosen by TEE_TCB_SVN[1], the module's major version) gives a
module status. The statuses then converge, as Intel's QVL does: an
out-of-date QE or module makes an up-to-date platform `OutOfDate`, a
revoked one makes it `Revoked`, and advisories accumulate.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.attestation.dcap.documents import IsvLevel, QeIdentity, TcbInfo, TdxModuleIdentity
from veil.attestation.dcap.errors import QeIdentityMismatch, TcbLevelNotFound, TdxModuleMismatch
from veil.attestation.dcap.pck import PckExtensions
from veil.attestation.dcap.reports import SgxReportBody, TdReportBody


@dataclass(frozen=True)
class TcbVerdict:
    status: str
    advisories: tuple[str, ...] = ()


def platform_tcb(
    tcb_info: TcbInfo, pck: PckExtensions, tee_tcb_svn: bytes | None = None
) -> TcbVerdict:
    """The first TCB level the platform meets (SGX: PCK SVNs; TDX: also TEE_TCB_SVN)."""
    skip_module = (
        tee_tcb_svn is not None and tee_tcb_svn[1] > 0 and bool(tcb_info.tdx_module_identities)
    )
    for level in tcb_info.levels:
        if pck.pce_svn < level.pce_svn:
            continue
        if any(
            have < need for have, need in zip(pck.components, level.sgx_components, strict=True)
        ):
            continue
        if tee_tcb_svn is not None:
            if level.tdx_components is None:
                continue
            # With module identities, TEE_TCB_SVN[0..1] are judged by the module's own levels.
            start = 2 if skip_module else 0
            pairs = zip(tee_tcb_svn[start:], level.tdx_components[start:], strict=True)
            if any(have < need for have, need in pairs):
                continue
        return TcbVerdict(level.status, level.advisories)
    raise TcbLevelNotFound("the platform's SVNs are below every TCB level in the TCB info")


def qe_tcb(identity: QeIdentity, qe_report: SgxReportBody) -> TcbVerdict:
    """Check the QE is Intel's (QeIdentityMismatch otherwise) and find its TCB level."""
    if qe_report.mr_signer != identity.mr_signer:
        raise QeIdentityMismatch("QE MRSIGNER is not the one in the QE identity")
    if qe_report.isv_prod_id != identity.isv_prod_id:
        raise QeIdentityMismatch(
            f"QE ISVPRODID {qe_report.isv_prod_id}, identity says {identity.isv_prod_id}"
        )
    if qe_report.misc_select & identity.misc_select_mask != identity.misc_select:
        raise QeIdentityMismatch("QE MISCSELECT does not match under its mask")
    if _masked(qe_report.attributes, identity.attributes_mask) != identity.attributes:
        raise QeIdentityMismatch("QE ATTRIBUTES do not match under their mask")
    return _isv_level(identity.levels, qe_report.isv_svn, "QE")


def tdx_module_tcb(tcb_info: TcbInfo, body: TdReportBody) -> TcbVerdict:
    """Check MRSIGNERSEAM/SEAMATTRIBUTES against the module identity; its TCB level."""
    isv_svn, major = body.tee_tcb_svn[0], body.tee_tcb_svn[1]
    if major == 0 or not tcb_info.tdx_module_identities:
        module = tcb_info.tdx_module
        if module is None:
            raise TdxModuleMismatch("TCB info has no TDX module identity")
        _check_module(module, body)
        return TcbVerdict("UpToDate")
    wanted = f"TDX_{major:02X}"
    for module in tcb_info.tdx_module_identities:
        if module.id.upper() == wanted:
            _check_module(module, body)
            return _isv_level(module.levels, isv_svn, "TDX module")
    raise TdxModuleMismatch(f"TCB info has no identity {wanted} for this TDX module")


def converge(platform: TcbVerdict, other: TcbVerdict) -> TcbVerdict:
    """Fold a QE or TDX module verdict into the platform's, as Intel's QVL does."""
    advisories = tuple(dict.fromkeys(platform.advisories + other.advisories))
    status = platform.status
    if other.status == "Revoked":
        status = "Revoked"
    elif other.status == "OutOfDate":
        if status in ("UpToDate", "SWHardeningNeeded"):
            status = "OutOfDate"
        elif status in ("ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded"):
            status = "OutOfDateConfigurationNeeded"
    return TcbVerdict(status, advisories)


def _isv_level(levels: tuple[IsvLevel, ...], isv_svn: int, what: str) -> TcbVerdict:
    for level in levels:
        if isv_svn >= level.isv_svn:
            return TcbVerdict(level.status, level.advisories)
    raise TcbLevelNotFound(f"{what} ISV SVN {isv_svn} is below every listed level")


def _check_module(module: TdxModuleIdentity, body: TdReportBody) -> None:
    if body.mr_signer_seam != module.mr_signer:
        raise TdxModuleMismatch("MRSIGNERSEAM is not the TDX module signer in the TCB info")
    if _masked(body.seam_attributes, module.attributes_mask) != module.attributes:
        raise TdxModuleMismatch("SEAMATTRIBUTES do not match under their mask")


def _masked(value: bytes, mask: bytes) -> bytes:
    if len(value) != len(mask):
        return b""
    return bytes(v & m for v, m in zip(value, mask, strict=True))

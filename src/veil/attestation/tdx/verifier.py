"""Verify a TDX DCAP quote and extract the trust domain's claims.

The measurement policies pin is MRTD (the initial TD image); RTMRs,
MRCONFIGID, MROWNER, MRSEAM and the TD attributes go into details. The TCB
status combines the platform level (PCK SVNs and TEE_TCB_SVN), the TDX
module's identity level and the TD quoting enclave's level.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509

from veil.attestation.dcap.checks import CollateralCheck, verify_dcap_quote
from veil.attestation.dcap.collateral import Collateral
from veil.attestation.dcap.roots import load_root
from veil.attestation.dcap.tcb import converge, platform_tcb, tdx_module_tcb
from veil.attestation.verifier import Claims


class TdxVerifier:
    """Checks TDX quotes against a pinned Intel SGX Root CA and supplied collateral."""

    tee = "tdx"

    def __init__(self, *, root_der: bytes | x509.Certificate, collateral: Collateral) -> None:
        self._collateral = CollateralCheck(collateral, load_root(root_der), "tdx")

    def verify(self, evidence: bytes, *, now: datetime) -> Claims:
        result = verify_dcap_quote(evidence, collateral=self._collateral, now=now)
        body = result.quote.td_body
        tcb_info = self._collateral.collateral.tcb_info
        platform = platform_tcb(tcb_info, result.pck, body.tee_tcb_svn)
        module = tdx_module_tcb(tcb_info, body)
        tcb = converge(converge(platform, module), result.qe)
        details = {
            "quote_version": str(result.quote.header.version),
            "mr_seam": body.mr_seam.hex(),
            "mr_signer_seam": body.mr_signer_seam.hex(),
            "tee_tcb_svn": body.tee_tcb_svn.hex(),
            "td_attributes": body.td_attributes.hex(),
            "xfam": body.xfam.hex(),
            "mr_config_id": body.mr_config_id.hex(),
            "mr_owner": body.mr_owner.hex(),
            "mr_owner_config": body.mr_owner_config.hex(),
            "fmspc": result.pck.fmspc.hex(),
            "platform_tcb_status": platform.status,
            "tdx_module_tcb_status": module.status,
            "qe_tcb_status": result.qe.status,
        }
        for i, rtmr in enumerate(body.rtmrs):
            details[f"rtmr{i}"] = rtmr.hex()
        if body.mr_service_td is not None and body.tee_tcb_svn2 is not None:
            details["mr_service_td"] = body.mr_service_td.hex()
            details["tee_tcb_svn2"] = body.tee_tcb_svn2.hex()
        return Claims(
            tee=self.tee,
            measurement=body.mr_td.hex(),
            report_data=body.report_data,
            debug=body.debug,
            tcb_status=tcb.status,
            advisories=tcb.advisories,
            details=details,
        )

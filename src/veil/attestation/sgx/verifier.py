"""Verify an SGX DCAP quote and extract the enclave's claims.

The measurement policies pin is MRENCLAVE; MRSIGNER, ISV product id and SVN
go into details. The TCB status is Intel's level for the platform's PCK SVNs,
converged with the quoting enclave's own level.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509

from veil.attestation.dcap.checks import CollateralCheck, verify_dcap_quote
from veil.attestation.dcap.collateral import Collateral
from veil.attestation.dcap.roots import load_root
from veil.attestation.dcap.tcb import converge, platform_tcb
from veil.attestation.verifier import Claims


class SgxVerifier:
    """Checks SGX quotes against a pinned Intel SGX Root CA and supplied collateral."""

    tee = "sgx"

    def __init__(self, *, root_der: bytes | x509.Certificate, collateral: Collateral) -> None:
        self._collateral = CollateralCheck(collateral, load_root(root_der), "sgx")

    def verify(self, evidence: bytes, *, now: datetime) -> Claims:
        result = verify_dcap_quote(evidence, collateral=self._collateral, now=now)
        body = result.quote.sgx_body
        platform = platform_tcb(self._collateral.collateral.tcb_info, result.pck)
        tcb = converge(platform, result.qe)
        return Claims(
            tee=self.tee,
            measurement=body.mr_enclave.hex(),
            report_data=body.report_data,
            debug=body.debug,
            tcb_status=tcb.status,
            advisories=tcb.advisories,
            details={
                "mr_signer": body.mr_signer.hex(),
                "isv_prod_id": str(body.isv_prod_id),
                "isv_svn": str(body.isv_svn),
                "attributes": body.attributes.hex(),
                "misc_select": f"{body.misc_select:08x}",
                "cpu_svn": body.cpu_svn.hex(),
                "fmspc": result.pck.fmspc.hex(),
                "pce_svn": str(result.pck.pce_svn),
                "qe_tcb_status": result.qe.status,
                "platform_tcb_status": platform.status,
            },
        )

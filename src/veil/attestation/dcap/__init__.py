"""Intel DCAP, shared by the SGX and TDX verifiers.

Quote parsing (`quote`, `reports`), the PCK certificate's SGX extensions
(`pck`), collateral loading (`collateral`, `documents`), TCB-level matching
(`tcb`), the checks common to both quote kinds (`checks`) and an optional
PCS/PCCS fetcher (`pcs`); certificate chains and CRLs are in
`veil.attestation.certchain`, shared with SEV-SNP. The TEE-specific verifiers live in
`veil.attestation.sgx` and `veil.attestation.tdx`.
"""

"""Intel DCAP, shared by the SGX and TDX verifiers.

Quote parsing (`quote`, `reports`), the PCK certificate's SGX extensions
(`pck`), collateral loading (`collateral`), certificate chains and CRLs
(`chain`), TCB info / QE identity matching (`tcb`) and the checks common to
both quote kinds (`checks`). The TEE-specific verifiers live in
`veil.attestation.sgx` and `veil.attestation.tdx`.
"""

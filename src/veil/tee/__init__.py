"""How an enclave produces evidence: one attester per TEE interface.

`attester.Attester` is the shape; `tsm` (confidential VMs: TDX, SEV-SNP,
through Linux configfs-tsm) and `gramine` (SGX enclaves under Gramine) are
the real backends. The `sim` backend lives beside them.
"""

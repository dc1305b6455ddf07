"""How an enclave produces evidence: `sim` (software, the default) and real TEE backends.

An attester turns 64 bytes of report data into evidence bytes that a
verifier in `veil.attestation` checks.
"""

"""Verifiers for TEE evidence, reference values, policy and attestation results.

One plug-in folder per TEE (`sim/`, `sgx/`, `tdx/`, `snp/`), each providing a
`Verifier`; `factory.verifier_for` picks one by TEE type and fails loudly on
an unknown type.
"""

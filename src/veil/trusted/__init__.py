"""The trusted computing base: everything here runs inside the TEE.

Nothing in this package imports the untrusted side (host, kms, client, cli,
tee, attestation); an import-linter contract in the test command enforces it.
Everything the host hands in is bytes that this package verifies.
"""

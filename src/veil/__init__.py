"""Veil: confidential serverless functions in attested enclaves."""

__version__ = "0.1.0"

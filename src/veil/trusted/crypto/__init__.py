"""Thin, safe recipes over `cryptography`; raw HPKE/AEAD lives in `hazmat` only."""

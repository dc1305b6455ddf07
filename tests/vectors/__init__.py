"""Test vectors kept in the repo: real evidence and collateral (provenance in README.md)."""

from pathlib import Path

VECTORS = Path(__file__).resolve().parent
EVIDENCE = VECTORS / "evidence"
"""The public Intel and AMD samples; every test that needs real evidence reads them here."""

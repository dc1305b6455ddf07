"""`veil demo`: placeholder until the trusted core lands."""

from __future__ import annotations


def demo() -> None:
    """Run the whole story once: deploy, attest, invoke, verify, refuse a tampered request."""
    raise SystemExit("not yet")

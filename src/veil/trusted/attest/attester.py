"""The interface of every evidence producer: bind 64 bytes of report data, never reading them."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

REPORT_DATA_SIZE = 64


@runtime_checkable
class Attester(Protocol):
    """Produces evidence of TEE type `tee` binding `report_data` (exactly 64 bytes)."""

    @property
    def tee(self) -> str: ...

    def evidence(self, report_data: bytes) -> bytes: ...


def check_report_data(report_data: bytes) -> bytes:
    """Caller misuse (not 64 bytes) is a ValueError, as for every recipe."""
    if len(report_data) != REPORT_DATA_SIZE:
        raise ValueError(f"report data is {REPORT_DATA_SIZE} bytes, got {len(report_data)}")
    return bytes(report_data)

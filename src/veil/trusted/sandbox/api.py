"""The interface every sandbox runtime implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Output:
    """What one invocation produced; `logs` is captured stdout/stderr when the manifest asks."""

    data: bytes
    logs: bytes = b""


class Sandbox(Protocol):
    """One loaded function, ready to serve requests one at a time.

    `invoke` enforces the manifest limits, raises a `FunctionError` subclass
    on failure, and always leaves the sandbox rewound to `snapshot_hash`'s
    state, whether the call succeeded or not.
    """

    @property
    def snapshot_hash(self) -> bytes:
        """Hash of the state every request starts from (named in receipts)."""
        ...

    def invoke(self, data: bytes) -> Output: ...

    def close(self) -> None: ...

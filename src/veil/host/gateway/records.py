"""The gateway's cache of fresh function records, so that a record GET rarely costs a KMS call.

Clients refuse an expired record, so the gateway serves the KMS's current one
(`TrustServices.function_record`: the KMS re-signs it before half its validity
passes), keeps it until half its validity is gone, and fetches it again as
soon as the registry holds a newer version (a deploy). Nothing here is trusted: clients verify every
record with the KMS key they pinned, and check its name, version and validity.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Final

from veil.trusted.crypto.signing import VerifyKey
from veil.trusted.wire.records import FunctionRecord

MIN_REFETCH_MS: Final = 1_000
"""However stale a record the KMS answers (clocks apart), at most one fetch a second per name."""


class FreshRecords:
    """Records by name, each with its version and when to fetch it again (ms, wall clock)."""

    def __init__(
        self,
        fetch: Callable[[str], Awaitable[bytes]],
        kms_key: Callable[[], Awaitable[VerifyKey]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch, self._kms_key, self._clock = fetch, kms_key, clock
        self._cache: dict[str, tuple[bytes, int, int]] = {}

    async def get(self, name: str, version: int = 0) -> bytes:
        """The record of `name`, fresh and at least `version` (the registry's)."""
        cached = self._cache.get(name)
        if cached is not None and cached[1] >= version and self._now_ms() < cached[2]:
            return cached[0]
        data = await self._fetch(name)
        self.remember(data, FunctionRecord.verify(data, await self._kms_key()))
        return data

    def remember(self, data: bytes, record: FunctionRecord) -> None:
        """Keep `data` (the signed `record`) until half its validity has passed."""
        half = record.issued_ms + (record.expires_ms - record.issued_ms) // 2
        refetch = max(half, self._now_ms() + MIN_REFETCH_MS)
        self._cache[record.name] = (data, record.version, refetch)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

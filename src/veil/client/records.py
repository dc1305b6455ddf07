"""Which function records a client accepts: the one it asked for, no older than it has seen,
not expired, and after a deploy the one for the bundle it uploaded. A pinned version's
record (`NAME@N`, KMS-signed under that name) must be version N.

The gateway hands out records and the host behind it may be hostile. Every
record is KMS-signed, so it cannot forge one, but it can answer with the wrong
genuine one: another function's (the client would seal its input to that
function's enclave: a redirect), an older version's (a rollback), or one it
kept past its validity. Each record is verified with the pinned KMS key and
then checked here, before anything is sealed to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from veil.registration import VersionList, split_pinned
from veil.trusted.bundle import Bundle
from veil.trusted.crypto.signing import VerifyKey
from veil.trusted.errors import Refused
from veil.trusted.wire.records import FunctionRecord

REFRESH_BEFORE_MS: Final = 10_000
"""A cached record is fetched again this long before it expires."""


class RecordMismatch(Refused):
    """A record for another function than the one asked for, or a deploy answered with a
    record for other code than the bundle uploaded (name, digest or signer differ)."""


class RecordRolledBack(Refused):
    """A record older than the newest version this client has seen of that function."""


class StaleRecord(Refused):
    """A record past its KMS-signed validity: kept by the host, or the KMS is unreachable."""


class RecordBook:
    """The records one client accepted, and the newest version it has seen of each name."""

    def __init__(self, kms_key: VerifyKey, clock: Callable[[], float] = time.time) -> None:
        self._kms_key, self._clock = kms_key, clock
        self._records: dict[str, FunctionRecord] = {}
        self._newest: dict[str, FunctionRecord] = {}

    def cached(self, name: str) -> FunctionRecord | None:
        """The accepted record of `name`, unless it expires within `REFRESH_BEFORE_MS`."""
        record = self._records.get(name)
        if record is None or record.expires_ms - REFRESH_BEFORE_MS <= self._now_ms():
            return None
        return record

    def accept(self, content: bytes, name: str) -> FunctionRecord:
        """Verify `content` as the current record of `name`, remember it, return it."""
        record = FunctionRecord.verify(content, self._kms_key)
        if record.name != name:
            raise RecordMismatch(f"asked for the record of {name!r}, got {record.name!r}'s")
        pinned = split_pinned(name)[1]
        if pinned is not None and pinned != record.version:  # `NAME@N` is version N, only
            raise RecordMismatch(f"asked for {name}, got a record of v{record.version}")
        newest = self._newest.get(name)
        if newest is not None and (
            record.version < newest.version
            or (record.version == newest.version and record.digest != newest.digest)
        ):
            raise RecordRolledBack(f"{name} v{record.version} is older than v{newest.version}")
        if record.expires_ms <= self._now_ms():
            raise StaleRecord(f"the record of {name} v{record.version} has expired")
        self._records[name] = self._newest[name] = record
        return record

    def accept_versions(self, content: bytes, name: str) -> VersionList:
        """Verify `content` as the KMS's current list of `name`'s retained versions."""
        listed = VersionList.verify(content, self._kms_key)
        if listed.name != name:
            raise RecordMismatch(f"asked for the versions of {name!r}, got {listed.name!r}'s")
        newest = self._newest.get(name)
        if newest is not None and listed.current < newest.version:
            raise RecordRolledBack(f"{name} v{listed.current} is older than v{newest.version}")
        if listed.expires_ms <= self._now_ms():
            raise StaleRecord(f"the version list of {name} has expired")
        return listed

    def accept_deployed(self, content: bytes, bundle: Bundle, signer: VerifyKey) -> FunctionRecord:
        """`accept`, for the answer to a deploy: the record must be for exactly that bundle."""
        record = FunctionRecord.verify(content, self._kms_key)
        uploaded = (bundle.manifest.name, bundle.digest, signer.raw)
        if (record.name, record.digest, record.signer) != uploaded:
            raise RecordMismatch("the deploy was answered with the record of other code")
        return self.accept(content, record.name)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

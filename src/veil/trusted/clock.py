"""Trusted time: KMS-signed anchors carried forward by the host's monotonic clock.

Time is the KMS's signed time for a nonce the enclave issued plus the local time
since it issued it: an upper bound on real time, so a slow relay makes the enclave
refuse early, never late; and never backwards (a high-water mark). No anchor, or
one older than `VALIDITY_MS` of local time: refused. An anchor the local clock
mispredicted by over 1 s + 1 % of the time since the last: refused until one agrees.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable
from typing import Final

from veil.trusted.crypto.signing import VerifyKey
from veil.trusted.errors import Refused
from veil.trusted.wire import signed

CONTEXT: Final = b"veil/time-anchor/v1"
NONCE_SIZE: Final = 16
VALIDITY_MS: Final = 60_000
DRIFT_MS: Final = 1_000
_FIELDS: Final[dict[str, type | tuple[type, ...]]] = {"nonce": bytes, "time_ms": int}


def os_monotonic_ms() -> int:
    """The OS's monotonic clock: the host's to set, so it only ever measures since an anchor."""
    return time.monotonic_ns() // 1_000_000


class ClockNotAnchored(Refused):
    """No time anchor yet, or the last is older than `VALIDITY_MS` of local time."""

    public_message = "enclave clock has no fresh time anchor"


class ClockDrift(Refused):
    """The local clock mispredicted the last anchor: untrusted until one agrees."""

    public_message = "enclave clock disagreed with its time anchor"


class StaleAnchor(Refused):
    """A time anchor for another nonce than the outstanding one: replayed or crossed."""

    public_message = "time anchor is not for the outstanding nonce"


class TrustedClock:
    def __init__(self, kms_key: VerifyKey, monotonic_ms: Callable[[], int]) -> None:
        self._kms_key, self._mono = kms_key, monotonic_ms
        self._pending: tuple[bytes, int] | None = None
        self._anchor: tuple[int, int] | None = None  # (KMS time, local time its nonce left)
        self._high, self._steady = 0, True

    def request(self) -> bytes:
        """A nonce for the KMS to sign its time with; it replaces any outstanding one."""
        self._pending = (os.urandom(NONCE_SIZE), self._mono())
        return self._pending[0]

    def anchor(self, document: bytes) -> None:
        """Adopt the KMS's signed time for the outstanding nonce; check the clock predicted it."""
        m = signed.open_document(
            document, context=CONTEXT, key=self._kms_key, limit=256, fields=_FIELDS
        )
        if self._pending is None or not hmac.compare_digest(m["nonce"], self._pending[0]):
            raise StaleAnchor("time anchor is not for the outstanding nonce")
        (_, issued), self._pending, mono = self._pending, None, self._mono()
        if self._anchor is not None:
            (time_ms, since), slack = self._anchor, DRIFT_MS + (mono - self._anchor[1]) // 100
            predicted = time_ms + mono - since
            self._steady = m["time_ms"] - slack <= predicted <= m["time_ms"] + mono - issued + slack
        self._anchor = (m["time_ms"], issued)
        self.read_ms(mono)

    def read_ms(self, mono: int | None = None) -> int:
        """The anchored time carried forward, never below one already read; unchecked."""
        time_ms, issued = self._anchor or (0, 0)
        mono = self._mono() if mono is None else mono
        self._high = max(self._high, time_ms + mono - issued)
        return self._high

    def now_ms(self) -> int:
        """Trusted time, or `ClockNotAnchored` / `ClockDrift` when it cannot be trusted."""
        mono = self._mono()
        if self._anchor is None or mono - self._anchor[1] > VALIDITY_MS:
            raise ClockNotAnchored("no fresh time anchor")
        if not self._steady:
            raise ClockDrift("clock disagreed with its last time anchor")
        return self.read_ms(mono)

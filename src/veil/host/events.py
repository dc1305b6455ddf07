"""Host-side events (deploys, cold starts, worker deaths, refusals) for `veil logs`.

Only metadata: function names, enclave ids, error kinds, timings. Never a
payload, key or plaintext — the host has none to log.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger("veil.host")


@dataclass(frozen=True)
class Event:
    seq: int
    time: float
    kind: str
    detail: dict[str, Any]


class EventLog:
    def __init__(self, capacity: int = 2000) -> None:
        self._events: deque[Event] = deque(maxlen=capacity)
        self._seq = 0

    def emit(self, kind: str, **detail: Any) -> None:
        self._seq += 1
        self._events.append(Event(self._seq, time.time(), kind, detail))
        log.info("%s %s", kind, " ".join(f"{k}={v}" for k, v in detail.items()))

    def since(self, seq: int = 0) -> list[dict[str, Any]]:
        return [asdict(e) for e in self._events if e.seq > seq]

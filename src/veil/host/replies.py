"""What the host reads from an enclave's reply: the receipt's outcome and the sealed log entry.

The reply comes from the host's own worker, framed and size-bounded by the
channel, so the host reads it with cbor2's C decoder, once per request. The
trusted core's bounded decoder is made for bytes from the host; on the gateway's
hot path it cost about a fifth of the gateway's CPU per request.

The receipt's `ok` is in clear (the client checks it agrees with the sealed
result); the host does not verify the receipt's signature, so a host that
forges it only lies in its own metrics and log store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cbor2

from veil.host.logstore import LogEntry
from veil.trusted.wire import cbor


@dataclass(frozen=True)
class Reply:
    """An enclave's reply as the host sees it; `log` is the sealed entry, if any."""

    ok: bool
    fields: dict[str, Any]
    receipt: dict[str, Any]

    @property
    def log(self) -> bytes | None:
        log = self.fields.get("log")
        return log if isinstance(log, bytes) and log else None

    def for_caller(self) -> bytes:
        """The reply without its log entry: the caller never gets the tenant's log."""
        return cbor.encode({k: v for k, v in self.fields.items() if k != "log"})

    def log_entry(self, function: str, version: int) -> LogEntry | None:
        """The entry to store, bound to the receipt's served time and enclave (unverified: a
        wrong one only makes the entry not open for the tenant)."""
        served, enclave = self.receipt.get("served"), self.receipt.get("enclave")
        rid = self.fields.get("rid")
        if self.log is None or not isinstance(served, int) or not isinstance(enclave, bytes):
            return None
        if not isinstance(rid, bytes):
            return None
        return LogEntry(function, version, rid, served, enclave, self.log)


def read_reply(reply: bytes) -> Reply | None:
    """The reply's fields and receipt body, or None if it is not a well-formed response."""
    try:
        fields = cbor2.loads(reply)
        document = cbor2.loads(fields["receipt"])
        receipt = cbor2.loads(document["body"])
    except (cbor2.CBORDecodeError, TypeError, KeyError, ValueError, AttributeError):
        return None
    if not isinstance(fields, dict) or not isinstance(receipt, dict):
        return None
    return Reply(receipt.get("ok") is True, fields, receipt)

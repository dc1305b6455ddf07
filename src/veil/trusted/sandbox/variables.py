"""`variable(name)` for guests: secrets (from the grant; first on a clash) and plain config.

`CURRENT` is the sandbox serving this thread, for the reactor's host import.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Final, cast

import wasmtime

_U32: Final = 0xFFFFFFFF


class Variables:
    def __init__(self, config: Mapping[str, str]) -> None:
        self.secrets: dict[str, bytes] = {}  # replaced by a newer grant: rotation
        self.config = {name: value.encode() for name, value in config.items()}

    def get(self, name: str) -> bytes | None:
        return self.secrets.get(name, self.config.get(name))

    def as_json(self) -> bytes:
        """All of them as one JSON object of strings: how the JavaScript prelude gets them."""
        merged = {**self.config, **self.secrets}
        return json.dumps({k: v.decode("utf-8", "replace") for k, v in merged.items()}).encode()


CURRENT: Final[ContextVar[Variables]] = ContextVar("veil_variables")
_NONE: Final = Variables({})  # what `veil_init` reads: nothing (it runs before any request)


def reactor_import(caller: wasmtime.Caller, name: int, size: int, out: int, cap: int) -> int:
    """`veil.variable(name_ptr, name_len, out_ptr, out_cap) -> i32`: -1 if absent, else the
    length (the value is copied only if it fits)."""
    memory, name = cast(wasmtime.Memory, caller["memory"]), name & _U32
    key = memory.read(caller, name, name + (size & _U32)).decode("utf-8", "replace")
    value = CURRENT.get(_NONE).get(key)
    if value is not None and len(value) <= (cap & _U32):
        memory.write(caller, value, out & _U32)
    return -1 if value is None else len(value)

"""Sample functions shipped with Veil, used by the demo, the benchmarks and the tests."""

from __future__ import annotations

from importlib import resources

import wasmtime


def wasm(name: str) -> bytes:
    """The compiled bytes of sample `name` (a `.wat` file beside this module)."""
    text = resources.files(__package__).joinpath(f"{name}.wat").read_text()
    return wasmtime.wat2wasm(text)

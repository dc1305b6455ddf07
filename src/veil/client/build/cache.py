"""A build cache: a build whose inputs did not change is reused, not rerun.

A Python build takes seconds (componentize-py snapshots CPython with the
handler in it) and its output depends only on its inputs: the source files
it stages, the entrypoint, and the tools (componentize-py, this Python,
Veil's build code and guest glue). `python.build_key` hashes exactly those;
this stores one build's code per key under a directory (`veil` uses
`<data-dir>/build-cache`), with the build's warnings, so a reused build
that would not reproduce still says so. The newest `keep` entries stay.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Final

from veil.client.build.manifest import BuildNotReproducible

KEEP: Final = 4
"""Builds kept (a Python build is tens of MB): enough for a few projects at once."""


class BuildCache:
    """Build code by key in `directory`; `reused` says whether the last `build` was a hit."""

    def __init__(self, directory: Path, keep: int = KEEP) -> None:
        self.directory = Path(directory)
        self.keep = keep
        self.reused = False

    def build(self, key: bytes, make: Callable[[], bytes]) -> bytes:
        """The cached code for `key`, or `make()`'s, stored for next time.

        A `BuildNotReproducible` warning of the build is kept with it and
        given again each time the build is reused.
        """
        code_file = self.directory / f"{key.hex()}.wasm"
        meta_file = code_file.with_suffix(".json")
        if code_file.is_file() and meta_file.is_file():
            self.reused = True
            for message in json.loads(meta_file.read_text())["warnings"]:
                warnings.warn(message, BuildNotReproducible, stacklevel=2)
            os.utime(code_file)
            return code_file.read_bytes()
        self.reused = False
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", BuildNotReproducible)
            code = make()
        said = [str(w.message) for w in caught if issubclass(w.category, BuildNotReproducible)]
        for warning in caught:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
        self._store(code_file, code, said)
        return code

    def _store(self, code_file: Path, code: bytes, said: list[str]) -> None:
        """Write atomically (a reader never sees half a build), then drop the oldest entries."""
        self.directory.mkdir(parents=True, exist_ok=True)
        _write(code_file.with_suffix(".json"), json.dumps({"warnings": said}).encode())
        _write(code_file, code)
        entries = sorted(self.directory.glob("*.wasm"), key=lambda p: p.stat().st_mtime)
        for old in entries[: max(0, len(entries) - self.keep)]:
            old.unlink(missing_ok=True)
            old.with_suffix(".json").unlink(missing_ok=True)


def _write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)

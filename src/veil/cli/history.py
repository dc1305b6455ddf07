"""The bundles this machine deployed, by function and version: what `veil rollback` redeploys.

A rollback publishes an old version's code as a new version, so the tenant
must sign that code again: the CLI keeps each bundle it deployed (the plain
bundle, before signing and sealing) in `<data-dir>/deployed/NAME/vN.bundle`,
the newest `KEEP` per function. The host's registry holds only sealed
bundles it cannot open, and the KMS never holds code, so this is the one
honest place to take it from. A bundle read back is checked against the
digest the KMS signed for that version whenever the KMS still lists it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Final

from veil.trusted.bundle import Bundle

DIR: Final = "deployed"
KEEP: Final = 10
"""Bundles kept per function: more than the KMS retains by default (5), so a rollback can
reach a version whose keys were pruned."""


class BundleNotKept(Exception):
    """A rollback to a version whose bundle this machine does not have."""


class History:
    """`<data-dir>/deployed/`: one folder per function name, one file per version."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / DIR

    def folder(self, name: str) -> Path:
        parts = name.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"{name!r} is not a function name")
        return self.root.joinpath(*parts)

    def keep(self, name: str, version: int, bundle: Bundle) -> None:
        """Keep `bundle` as `version` of `name` (written atomically); drop the oldest past KEEP."""
        folder = self.folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".bundle-")
        with os.fdopen(fd, "wb") as f:
            f.write(bundle.to_bytes())
        os.replace(tmp, folder / f"v{version}.bundle")
        for old in self.versions(name)[:-KEEP]:
            (folder / f"v{old}.bundle").unlink()

    def versions(self, name: str) -> list[int]:
        """The versions of `name` kept here, oldest first."""
        folder = self.folder(name)
        found = [p.stem[1:] for p in folder.glob("v*.bundle")] if folder.is_dir() else []
        return sorted(int(v) for v in found if v.isdigit())

    def bundle(self, name: str, version: int) -> Bundle:
        """The bundle deployed as `version` of `name`, or `BundleNotKept`."""
        path = self.folder(name) / f"v{version}.bundle"
        if not path.is_file():
            kept = ", ".join(f"v{v}" for v in self.versions(name)) or "none"
            raise BundleNotKept(
                f"this machine has no bundle of {name} v{version} in {path.parent} (kept: {kept}); "
                "a rollback can only republish code deployed from here: "
                "check out that code and `veil deploy` it instead"
            )
        return Bundle.from_bytes(path.read_bytes())

    def forget(self, name: str) -> None:
        shutil.rmtree(self.folder(name), ignore_errors=True)

"""Which project deployed each function name, as this machine remembers it.

A function name is all the host's registry knows, so two projects that
both call their function `hello` would silently replace each other. The
CLI keeps its own bookkeeping in `<data-dir>/deployed.json`: function name
to the project it was deployed from (the project directory, resolved; for
a bundle file, the project directory it sits in, else the file itself).
A deploy from another project, or of a name the gateway has but this
machine never deployed, is refused unless `--replace` is given.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Final

from veil.client.build import MANIFEST_FILE

FILE: Final = "deployed.json"


class NameTaken(Exception):
    """A deploy would replace a function that another project deployed."""


def origin(path: Path) -> str:
    """The project a deploy of `path` comes from, as recorded in `deployed.json`."""
    path = path.resolve()
    project_file = path.name == MANIFEST_FILE or (path.parent / MANIFEST_FILE).is_file()
    if path.is_file() and project_file:
        return str(path.parent)
    return str(path)


class Owners:
    """`deployed.json` under one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE

    def load(self) -> dict[str, str]:
        if not self.path.is_file():
            return {}
        owners: dict[str, str] = json.loads(self.path.read_text("utf-8"))
        return owners

    def check(self, name: str, project: str, *, deployed: bool, replace: bool) -> None:
        """Refuse (`NameTaken`) a deploy of `name` from `project` that would replace another's."""
        if replace:
            return
        owner = self.load().get(name)
        fix = "rename the function in veil.toml, or pass --replace to replace it"
        if owner is not None and owner != project:
            raise NameTaken(f"{name} is deployed from {owner}, not from {project}: {fix}")
        if owner is None and deployed:
            raise NameTaken(
                f"{name} is already deployed, but not from {project} as far as this "
                f"machine knows ({self.path}): {fix}"
            )

    def record(self, name: str, project: str) -> None:
        """Remember that `project` now owns `name` (written atomically)."""
        self._write(self.load() | {name: project})

    def forget(self, name: str) -> None:
        """`name` was removed: no project owns it any more."""
        owners = self.load()
        if owners.pop(name, None) is not None:
            self._write(owners)

    def _write(self, owners: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".deployed-")
        with os.fdopen(fd, "w") as f:
            json.dump(owners, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.path)

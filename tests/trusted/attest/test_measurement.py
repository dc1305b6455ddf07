"""The measured set: what the sim measurement hashes is exactly what the Gramine manifest trusts."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest

from veil.trusted.attest import sim

VEIL = Path(str(resources.files("veil")))
VEIL_SRC = "/opt/veil/src"
TEMPLATE = resources.files("veil.trusted.attest.manifests").joinpath(
    "veil-worker.manifest.template"
)


def render(template: str, veil_src: str = VEIL_SRC) -> str:
    """The template with `veil_src` set and every other expression left as a marker.

    Only the paths under `veil_src` matter here; a full Jinja render (what
    `gramine-manifest` does) gives them the same text.
    """
    text = re.sub(r"\{%-?.*?-?%\}", "", template)
    text = text.replace("{{ veil_src }}", veil_src)
    return re.sub(r"\{\{.*?\}\}", "<expr>", text)


def veil_paths(manifest: str) -> set[tuple[str, str]]:
    """(kind, path relative to veil_src) for every mount and trusted file under `veil_src`."""
    body = "\n".join(line for line in manifest.splitlines() if not line.lstrip().startswith("#"))
    found = set()
    for match in re.finditer(
        r'(path|uri) = "(?:file:)?' + re.escape(VEIL_SRC) + r'(/[^"]*)?"', body
    ):
        found.add(("mount-" + match.group(1), match.group(2) or "/"))
    trusted_files = body[body.index("sgx.trusted_files") :]
    for match in re.finditer(r'"file:' + re.escape(VEIL_SRC) + r'(/[^"]*)?"', trusted_files):
        found.add(("trusted", match.group(1) or "/"))
    return found


def test_the_measured_set_is_the_trusted_package_and_veil_init() -> None:
    trusted = {
        p for p in (VEIL / "trusted").rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }
    assert set(sim.measured_files()) == trusted | {VEIL / "__init__.py"}
    assert VEIL / "trusted" / "sandbox" / "quickjs_prelude.js" in trusted  # not only .py


@pytest.mark.parametrize("which", [0, -1], ids=["veil/__init__.py", "last trusted file"])
def test_the_measurement_changes_with_a_measured_file(
    monkeypatch: pytest.MonkeyPatch, which: int
) -> None:
    before = sim.measurement()
    target = sim.measured_files()[which]
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda p: real(p) + (b"\n" if p == target else b""))
    sim.measurement.cache_clear()
    try:
        assert sim.measurement() != before
    finally:
        monkeypatch.undo()
        sim.measurement.cache_clear()
    assert sim.measurement() == before


def test_the_measurement_covers_the_distribution_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    before = sim.measurement()
    sim.measurement.cache_clear()
    real = sim.metadata.version
    monkeypatch.setattr(sim.metadata, "version", lambda d: "0" if d == "wasmtime" else real(d))
    try:
        assert sim.measurement() != before
    finally:
        monkeypatch.undo()
        sim.measurement.cache_clear()


def files_named_by(entry: str) -> set[Path]:
    """The files a manifest path (relative to veil_src) makes visible: one file, or a tree."""
    path = VEIL.parent / entry.strip("/")
    if path.is_file():
        return {path}
    return {p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_the_gramine_manifest_mounts_and_trusts_exactly_the_measured_set() -> None:
    paths = veil_paths(render(TEMPLATE.read_text()))
    mounts = {p for kind, p in paths if kind.startswith("mount")}
    trusted = {p for kind, p in paths if kind == "trusted"}
    measured = set(sim.measured_files())
    assert set().union(*map(files_named_by, mounts)) == measured
    assert set().union(*map(files_named_by, trusted)) == measured
    assert trusted == {"/veil/__init__.py", "/veil/trusted/"}


def test_the_gramine_manifest_runs_the_trusted_entry_point() -> None:
    manifest = render(TEMPLATE.read_text())
    assert '"-m", "veil.trusted"' in manifest
    assert "veil.host" not in manifest and "--trust-url" not in manifest


def test_the_manifest_check_notices_a_whole_src_mount() -> None:
    widened = TEMPLATE.read_text().replace(
        '"file:{{ veil_src }}/veil/trusted/",',
        '"file:{{ veil_src }}/veil/trusted/",\n  "file:{{ veil_src }}/",',
    )
    assert ("trusted", "/") in veil_paths(render(widened))

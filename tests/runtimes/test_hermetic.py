"""Hermetic builds: the traced program sees a host whose clocks, entropy and files are pinned.

These run a small probe program (`hermetic/probe.py`) under the real
tracer, as the Python build runs componentize-py, and check what it saw.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import veil
from veil.client.build import BuildNotReproducible, build, hermetic
from veil.client.build.hermetic import vdso
from veil.client.build.hermetic.pins import Pins

from .conftest import SOURCES

pytestmark = pytest.mark.skipif(
    hermetic.unsupported_reason() is not None, reason=str(hermetic.unsupported_reason())
)

EPOCH = 315532800
SEED = b"\x01" * 32
_PYTHONPATH = os.pathsep.join(
    [str(Path(veil.__file__).parents[1]), str(Path(__file__).parent / "hermetic")]
)


def run_probe(root: Path, directory: Path, *extra: str, seed: bytes = SEED) -> tuple[int, dict]:
    """Run the probe under the tracer from `root`; its exit status and what it printed."""
    command = hermetic.command("probe:main", [str(directory), *extra], seed=seed, epoch=EPOCH)
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": _PYTHONPATH}
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != hermetic.UNAVAILABLE, done.stderr
    return done.returncode, json.loads(done.stdout) if done.stdout else {}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A build root holding `src/` with three files, created in reverse name order."""
    src = tmp_path / "root" / "src"
    src.mkdir(parents=True)
    for name in ("c.py", "b.py", "a.py"):
        (src / name).write_text(f"# {name}\n")
    return tmp_path / "root"


def test_the_traced_thread_reads_the_epoch_on_every_clock(tree: Path) -> None:
    _, seen = run_probe(tree, tree / "src")
    assert seen["time"] == EPOCH
    assert seen["gmtime_year"] == 1980
    assert seen["monotonic"] == 1_000_000


def test_other_threads_keep_the_real_clock(tree: Path) -> None:
    """Only the guest's thread is pinned; compiler threads need a clock that moves."""
    _, seen = run_probe(tree, tree / "src")
    assert abs(seen["other_thread_time"] - time.time()) < 300


def test_every_file_time_is_the_epoch(tree: Path) -> None:
    _, seen = run_probe(tree, tree / "src")
    assert seen["mtime"] == seen["atime"] == seen["ctime"] == EPOCH


def test_inode_numbers_follow_the_path_under_the_root_not_the_disk(
    tree: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "other" / "copy"
    shutil.copytree(tree, elsewhere)
    _, here = run_probe(tree, tree / "src")
    _, there = run_probe(elsewhere, elsewhere / "src")
    assert here["inodes"] == there["inodes"]
    assert len(set(here["inodes"].values())) == 3


def test_directory_listings_come_in_name_order(tree: Path) -> None:
    _, seen = run_probe(tree, tree / "src")
    assert seen["listing"] == ["a.py", "b.py", "c.py"]
    assert seen["dir_size"] == 4096


def test_entropy_is_the_seeds_stream_on_every_run(tree: Path) -> None:
    _, first = run_probe(tree, tree / "src")
    _, again = run_probe(tree, tree / "src")
    _, other_seed = run_probe(tree, tree / "src", seed=b"\x02" * 32)
    assert first["entropy"] == again["entropy"] == Pins(SEED, EPOCH, "/").entropy(16).hex()
    assert other_seed["entropy"] != first["entropy"]


def test_the_programs_exit_status_comes_back(tree: Path) -> None:
    status, _ = run_probe(tree, tree / "src", "3")
    assert status == 3


def test_a_program_that_fails_to_start_reports_its_error(tree: Path) -> None:
    command = hermetic.command("no_such_module:main", [], seed=SEED, epoch=EPOCH)
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": _PYTHONPATH}
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode not in (0, hermetic.UNAVAILABLE)
    assert "No module named 'no_such_module'" in done.stderr


def test_this_hosts_vdso_has_every_clock_the_stubs_replace() -> None:
    low, high = vdso._vdso_range(os.getpid())
    with open("/proc/self/mem", "rb") as mem:
        mem.seek(low)
        entries = vdso.clock_entry_points(mem.read(high - low))
    assert set(entries) == set(vdso.CLOCK_SYSCALLS)
    for name, (_offset, size) in entries.items():
        assert size >= len(vdso.stub(vdso.CLOCK_SYSCALLS[name])), name


def test_a_non_elf_vdso_is_refused() -> None:
    with pytest.raises(vdso.VdsoNotPatched):
        vdso.clock_entry_points(b"\0" * 4096)


def test_inode_numbers_are_nonzero_and_relative_to_the_root() -> None:
    a, b = Pins(SEED, EPOCH, "/tmp/one"), Pins(SEED, EPOCH, "/var/two")
    assert a.inode("/tmp/one/app/x.py") == b.inode("/var/two/app/x.py") != 0
    assert a.inode("/tmp/one/app/x.py") != a.inode("/tmp/one/app/y.py")
    assert a.inode("/tmp/oneapp/x.py") != b.inode("/var/twoapp/x.py")


def test_a_host_that_cannot_trace_still_builds_but_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hermetic, "unsupported_reason", lambda: "no ptrace on this host")
    with pytest.warns(BuildNotReproducible, match="no ptrace on this host"):
        bundle = build(SOURCES["python-hello"])
    assert bundle.code[:4] == b"\0asm"

"""The vectors cannot change silently, and the suite needs nothing outside the repo.

Every vector file has a row in tests/vectors/README.md giving its source,
licence, expected verdict and SHA-256; the digests are checked here, so a
changed or added file fails until the README says what it is.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tests.vectors import VECTORS

REPO = VECTORS.parents[1]
ROW = re.compile(r"^\| `(?P<path>[^`]+)` \|(?P<middle>.*)\| `(?P<sha256>[0-9a-f]{64})` \|$")
NOT_VECTORS = {"README.md"}


def readme_rows() -> dict[str, tuple[list[str], str]]:
    rows = {}
    for line in (VECTORS / "README.md").read_text().splitlines():
        if match := ROW.match(line):
            cells = [cell.strip() for cell in match["middle"].split("|")]
            rows[match["path"]] = (cells, match["sha256"])
    return rows


def vector_files() -> set[str]:
    return {
        path.relative_to(VECTORS).as_posix()
        for path in VECTORS.rglob("*")
        if path.is_file() and path.name not in NOT_VECTORS and path.suffix not in {".py", ".pyc"}
    }


def test_the_readme_lists_the_evidence_samples() -> None:
    assert {"evidence/sgx/quote.bin", "evidence/snp/report_milan.hex"} <= set(readme_rows())


def test_every_vector_file_has_a_readme_row() -> None:
    assert vector_files() - set(readme_rows()) == set()


def test_every_readme_row_names_a_file_that_exists() -> None:
    assert set(readme_rows()) - vector_files() == set()


def test_every_vector_matches_the_sha256_its_row_gives() -> None:
    for path, (_, expected) in readme_rows().items():
        assert hashlib.sha256((VECTORS / path).read_bytes()).hexdigest() == expected, path


def test_every_row_says_what_the_file_is_its_source_licence_and_verdict() -> None:
    for path, (cells, _) in readme_rows().items():
        assert len(cells) == 4 and all(cells), path


SHARED_PATH = re.compile(r"""["']shared["']|\.\./shared|shared/testdata""")


def test_no_test_or_source_file_reads_the_shared_folder_outside_the_repo() -> None:
    readers = [
        path.relative_to(REPO).as_posix()
        for root in (REPO / "src", REPO / "tests")
        for path in root.rglob("*.py")
        if path != Path(__file__).resolve() and SHARED_PATH.search(path.read_text())
    ]
    assert readers == []

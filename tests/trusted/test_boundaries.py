"""The trusted core's shape, checked on its source: the hazmat fence and the line budget."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "veil"
TRUSTED = SRC / "trusted"
CRYPTO = TRUSTED / "crypto"
RAW = {"hpke_seal", "hpke_open", "aead_seal", "aead_open"}
"""Raw HPKE and AEAD: only `veil.trusted.crypto` may name them."""
BUDGET = 3000
MODULE_LIMIT = 400


def is_key_open(func: ast.expr) -> bool:
    """`x.open(a, b)`, other than `os.open(path, flags)`: how a raw HPKE key used to open."""
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "open"
        and not (isinstance(func.value, ast.Name) and func.value.id == "os")
    )


def raw_crypto_uses(tree: ast.AST) -> list[str]:
    """Every place a module names a raw primitive: called, imported or taken as an attribute."""
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in RAW:
            hits.append(node.attr)
        elif isinstance(node, ast.Name) and node.id in RAW:
            hits.append(node.id)
        elif isinstance(node, ast.ImportFrom):
            hits += [alias.name for alias in node.names if alias.name in RAW]
        elif isinstance(node, ast.Call) and is_key_open(node.func) and len(node.args) == 2:
            hits.append(f"{ast.unparse(node.func)}(…, …)")  # an HPKE-style key.open(ct, info)
    return hits


def code_lines(path: Path) -> int:
    """Non-blank, non-comment lines; docstrings count (they are read like code)."""
    return sum(
        1
        for line in path.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    )


def outside_crypto() -> list[Path]:
    return [p for p in SRC.rglob("*.py") if CRYPTO not in p.parents]


def test_no_module_outside_trusted_crypto_names_raw_hpke_or_aead() -> None:
    offenders = {
        str(p.relative_to(SRC)): hits
        for p in outside_crypto()
        if (hits := raw_crypto_uses(ast.parse(p.read_text())))
    }
    assert offenders == {}


@pytest.mark.parametrize(
    "source",
    [
        "from veil.trusted.crypto.hazmat import aead_open",
        "hazmat.hpke_seal(suite, pk, data, info)",
        "key.open(sealed, info)",
        "x = hazmat.aead_seal",
    ],
)
def test_the_fence_catches_each_way_of_reaching_a_primitive(source: str) -> None:
    assert raw_crypto_uses(ast.parse(source))


def test_the_fence_lets_recipes_files_and_key_types_through() -> None:
    source = "recipes.seal_grant(s, k, d, i); open(p, 'rb'); os.open(p, f, 0o600); hazmat.Suite"
    assert raw_crypto_uses(ast.parse(source)) == []


def test_the_trusted_core_stays_within_its_line_budget() -> None:
    total = sum(code_lines(p) for p in TRUSTED.rglob("*.py"))
    assert total <= BUDGET, f"veil.trusted has {total} lines of code, over {BUDGET}"


def test_no_trusted_module_is_over_400_lines() -> None:
    over = {
        str(p.relative_to(SRC)): n
        for p in TRUSTED.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MODULE_LIMIT
    }
    assert over == {}


def test_the_line_counter_skips_blanks_and_comments_but_counts_docstrings(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('"""Doc."""\n\n# note\nx = 1  # trailing\n    # indented note\n')
    assert code_lines(module) == 2

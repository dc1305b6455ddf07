"""`veil.toml`: one parser for every runtime, refusing by name what it does not know."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.client.build import (
    BUILDERS,
    BuildError,
    InvalidVeilToml,
    Project,
    parse_project,
    read_project,
)
from veil.client.build.manifest import DEFAULTS, LIMIT_MAXIMA, RUNTIMES, WASM_PAGE
from veil.client.build.scaffold import SOURCES, scaffold_limits
from veil.trusted.bundle import Limits, Manifest

HERE = Path("/projects/hello")
FUNCTION = '[function]\nname = "hello"\nversion = "1.0"\nruntime = "js"\n'


def parse(text: str) -> Project:
    return parse_project(text, HERE)


def test_a_typo_in_limits_is_refused_naming_the_key_and_the_likely_one() -> None:
    with pytest.raises(
        InvalidVeilToml, match=r"unknown key 'memory_page' in \[limits\].*'memory_pages'"
    ):
        parse(FUNCTION + "[limits]\nmemory_page = 64\n")


def test_an_unknown_table_is_refused_naming_it() -> None:
    with pytest.raises(
        InvalidVeilToml, match=r"unknown table \[env\] in /projects/hello/veil.toml"
    ):
        parse(FUNCTION + '[env]\nTOKEN = "x"\n')


def test_an_unknown_top_level_key_is_refused_naming_it() -> None:
    with pytest.raises(
        InvalidVeilToml, match=r"unknown key 'secrets' in /projects/hello/veil.toml"
    ):
        parse('secrets = ["db"]\n' + FUNCTION)


def test_an_unknown_function_key_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(
        InvalidVeilToml, match=r"unknown key 'handler' in \[function\].*known: name"
    ):
        parse(FUNCTION + 'handler = "app.js"\n')


def test_a_string_for_an_integer_limit_names_the_key_and_the_expected_type() -> None:
    with pytest.raises(
        InvalidVeilToml, match=r"\[limits\] timeout_ms .* must be a positive integer, not str '2s'"
    ):
        parse(FUNCTION + '[limits]\ntimeout_ms = "2s"\n')


def test_a_boolean_is_not_an_integer_limit() -> None:
    with pytest.raises(InvalidVeilToml, match=r"fuel .* must be a positive integer, not bool"):
        parse(FUNCTION + "[limits]\nfuel = true\n")


def test_a_limit_of_zero_is_refused() -> None:
    with pytest.raises(InvalidVeilToml, match=r"\[limits\] fuel .* must be a positive integer"):
        parse(FUNCTION + "[limits]\nfuel = 0\n")


def test_a_wrong_type_in_function_names_the_key_and_the_expected_type() -> None:
    with pytest.raises(
        InvalidVeilToml, match=r"\[function\] capture_logs .* true or false, not str"
    ):
        parse(FUNCTION + 'capture_logs = "yes"\n')


def test_limits_that_are_not_a_table_are_refused() -> None:
    with pytest.raises(InvalidVeilToml, match=r"'limits' .* must be a table"):
        parse("limits = 3\n" + FUNCTION)


def test_an_unknown_runtime_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(InvalidVeilToml, match=r"runtime .* 'rust'; known: wasm, python, js"):
        parse('[function]\nruntime = "rust"\n')


def test_text_that_is_not_toml_is_refused_naming_the_file() -> None:
    with pytest.raises(InvalidVeilToml, match=r"/projects/hello/veil.toml: "):
        parse("[function\n")


def test_an_abi_the_runtime_does_not_have_is_refused_when_the_manifest_is_made() -> None:
    project = parse_project('[function]\nruntime = "python"\nabi = "reactor"\n', HERE)
    with pytest.raises(InvalidVeilToml, match="unsupported runtime/ABI python/reactor"):
        project.manifest()


def test_left_out_settings_take_the_runtime_defaults_with_the_limits_given_on_top() -> None:
    project = parse_project(FUNCTION + "[limits]\ntimeout_ms = 300\n", HERE)
    defaults = DEFAULTS["js"]
    assert (project.abi, project.entrypoint, project.source) == ("quickjs", "handle", "handler.js")
    assert project.limits == Limits(**{**defaults["limits"], "timeout_ms": 300})


def test_a_wasm_project_keeps_the_sandbox_default_limits() -> None:
    assert parse_project('[function]\nname = "w"\n', HERE).limits == Limits()


def test_the_tenant_prefixes_a_bare_name_but_not_a_qualified_one() -> None:
    assert parse(FUNCTION).manifest("acme").name == "acme/hello"
    qualified = parse_project(FUNCTION.replace('"hello"', '"other/hello"'), HERE)
    assert qualified.manifest("acme").name == "other/hello"


def test_without_veil_toml_the_runtime_is_guessed_from_the_source_present(tmp_path: Path) -> None:
    (tmp_path / "handler.js").write_text("export function handle(r) { return r; }\n")
    project = read_project(tmp_path)
    assert (project.runtime, project.name) == ("js", tmp_path.name)


def test_a_directory_with_neither_veil_toml_nor_source_says_how_to_start(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"no veil.toml in .*`veil new NAME`"):
        read_project(tmp_path)


def test_every_runtime_the_parser_accepts_has_a_builder_and_a_scaffold() -> None:
    assert set(BUILDERS) == set(SOURCES) == set(RUNTIMES)


_KEYS = st.sampled_from(["function", "limits", "runtime", "name", "fuel", "memory_pages", "env"])
_BARE = st.one_of(_KEYS, st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True))
_VALUES = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["wasm", "python", "js", "reactor", "quickjs", "hello", "x25519", ""]),
    st.text(max_size=8),
)


def _render(doc: dict[str, dict[str, object]]) -> str:
    def value(v: object) -> str:
        return ("true" if v else "false") if isinstance(v, bool) else json.dumps(v)

    return "".join(
        f"[{table}]\n" + "".join(f"{k} = {value(v)}\n" for k, v in keys.items())
        for table, keys in doc.items()
    )


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_BARE, st.dictionaries(_BARE, _VALUES, max_size=5), max_size=3))
def test_any_document_parses_into_a_manifest_or_is_refused_as_invalid(doc: dict) -> None:
    text = _render(doc)
    try:
        manifest = parse_project(text, HERE).manifest("acme")
    except InvalidVeilToml as exc:
        assert re.search(r"veil\.toml", str(exc))
        return
    assert isinstance(manifest, Manifest)
    assert manifest.runtime in RUNTIMES


_LIMIT_VALUES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=1, max_value=70_000),
    st.booleans(),
    st.text(max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(RUNTIMES),
    st.dictionaries(st.sampled_from([*LIMIT_MAXIMA, "memory_page"]), _LIMIT_VALUES, max_size=5),
)
def test_any_limits_table_gives_limits_that_fit_or_is_refused_naming_veil_toml(
    runtime: str, limits: dict[str, object]
) -> None:
    text = f'[function]\nruntime = "{runtime}"\n' + _render({"limits": limits})
    try:
        project = parse_project(text, HERE)
    except InvalidVeilToml as exc:
        assert "veil.toml" in str(exc)
        return
    got = project.limits
    assert got.memory_pages * WASM_PAGE >= got.max_input + got.max_output
    assert all(0 < getattr(got, key) <= top for key, top in LIMIT_MAXIMA.items())


def test_every_limit_has_a_maximum() -> None:
    assert set(LIMIT_MAXIMA) == {f.name for f in dataclasses.fields(Limits)}


def test_limits_that_cannot_hold_one_input_and_output_say_how_many_pages_would() -> None:
    with pytest.raises(InvalidVeilToml, match=r"do not fit each other.*at least 48"):
        parse(FUNCTION + "[limits]\nmemory_pages = 16\nmax_output = 2097152\nmax_input = 1048576\n")


def test_every_scaffold_starts_with_limits_that_fit(tmp_path: Path) -> None:
    for runtime in RUNTIMES:
        assert scaffold_limits(runtime) == read_project(_scaffolded(tmp_path, runtime)).limits


def _scaffolded(tmp_path: Path, runtime: str) -> Path:
    from veil.client.build import scaffold

    scaffold(f"s{runtime}", tmp_path / runtime, runtime)
    return tmp_path / runtime

"""`[config]` in veil.toml: plain strings a function reads with `variable(name)`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import echo_bundle
from veil.client.build import InvalidVeilToml
from veil.client.build.manifest import parse_project
from veil.trusted.bundle import Bundle, Manifest
from veil.trusted.errors import MalformedMessage

HEAD = '[function]\nname = "fn"\n\n'


def config_of(text: str) -> dict[str, str]:
    return parse_project(HEAD + text, Path("fn")).manifest("acme").config


def test_config_values_are_carried_in_the_manifest() -> None:
    assert config_of('[config]\ngreeting = "hi"\n"db.host" = "db"\n') == {
        "greeting": "hi",
        "db.host": "db",
    }


def test_a_project_without_config_has_none() -> None:
    assert config_of("") == {}


def test_a_config_value_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(InvalidVeilToml, match=r"greeting .* must be a string"):
        config_of("[config]\ngreeting = 3\n")


def test_a_config_name_that_is_not_a_variable_name_is_refused() -> None:
    with pytest.raises(InvalidVeilToml, match="lower case"):
        config_of('[config]\nGreeting = "hi"\n')


def test_config_that_is_not_a_table_is_refused() -> None:
    with pytest.raises(InvalidVeilToml, match=r"must be a table, \[config\]"):
        parse_project('config = "x"\n' + HEAD, Path("fn"))


def test_a_bundle_without_config_keeps_the_digest_it_had_before_config_existed() -> None:
    bundle = echo_bundle()
    assert "config" not in bundle.manifest.to_cbor_obj()
    assert Bundle.from_bytes(bundle.to_bytes()).digest == bundle.digest


def test_config_is_covered_by_the_digest() -> None:
    one = echo_bundle(config={"greeting": "hi"})
    other = echo_bundle(config={"greeting": "ho"})
    assert one.digest != other.digest
    assert Bundle.from_bytes(one.to_bytes()).manifest.config == {"greeting": "hi"}


def test_a_manifest_with_non_string_config_is_malformed() -> None:
    with pytest.raises(MalformedMessage):
        Manifest("acme/fn", "1", config={"n": 3})  # type: ignore[dict-item]

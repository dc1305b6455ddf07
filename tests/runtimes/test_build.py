"""Builds: scaffolds that build, and reproducible digests tenants can audit."""

from __future__ import annotations

import shutil

import pytest

from veil.client.build import BuildError, build, hermetic, read_project, scaffold
from veil.trusted.sandbox.loader import load_sandbox

from .conftest import SOURCES


def test_building_the_same_js_source_twice_gives_the_same_digest():
    assert build(SOURCES["js-hello"]).digest == build(SOURCES["js-hello"]).digest


@pytest.mark.skipif(hermetic.unsupported_reason() is not None, reason="no hermetic builds here")
def test_building_the_same_python_source_twice_gives_the_same_digest(bundles):
    again = build(SOURCES["python-hello"])
    assert again.digest == bundles("python-hello").digest


@pytest.mark.skipif(hermetic.unsupported_reason() is not None, reason="no hermetic builds here")
def test_a_python_source_copied_elsewhere_builds_to_the_same_digest(bundles, tmp_path):
    copy = tmp_path / "somewhere" / "else"
    shutil.copytree(SOURCES["python-vendored"], copy)
    assert build(copy).digest == bundles("python-vendored").digest


def test_a_python_build_with_different_source_gives_a_different_digest(bundles, tmp_path):
    copy = tmp_path / "changed"
    shutil.copytree(SOURCES["python-hello"], copy)
    app = copy / "app.py"
    app.write_text(app.read_text().replace('GREETING = "hello"', 'GREETING = "hi"'))
    assert build(copy).digest != bundles("python-hello").digest


def test_a_scaffolded_js_function_builds_and_answers(tmp_path, engine):
    scaffold("greeter", tmp_path, "js")
    sandbox = load_sandbox(engine, build(tmp_path))
    assert sandbox.invoke(b"bob").data == b"hello, bob!"
    assert sandbox.invoke(b'{"a": 1}').data == b'{"received":{"a":1}}'


def test_a_scaffolded_python_function_has_a_handler_and_limits(tmp_path):
    written = {p.name for p in scaffold("greeter", tmp_path, "python")}
    assert written == {"app.py", "veil.toml", "requirements.txt"}
    assert "def handle(request: Request) -> Response" in (tmp_path / "app.py").read_text()
    assert 'runtime = "python"' in (tmp_path / "veil.toml").read_text()


def test_a_scaffolded_wasm_function_builds_and_answers(tmp_path, engine):
    scaffold("greeter", tmp_path)
    bundle = build(tmp_path, "acme")
    assert bundle.manifest.name == "acme/greeter"
    assert load_sandbox(engine, bundle).invoke(b"bob").data == b"hello, bob"


def test_every_scaffold_writes_a_veil_toml_the_parser_reads_back(tmp_path):
    for lang in ("wasm", "python", "js"):
        scaffold("greeter", tmp_path / lang, lang)
        assert read_project(tmp_path / lang).runtime == lang


def test_an_unknown_language_is_refused_listing_the_known_ones(tmp_path):
    with pytest.raises(BuildError, match="unknown language 'rust'; known: javascript, js, py"):
        scaffold("greeter", tmp_path, "rust")


def test_scaffold_refuses_to_overwrite_a_function(tmp_path):
    scaffold("greeter", tmp_path, "js")
    with pytest.raises(BuildError, match="already exists"):
        scaffold("greeter", tmp_path, "js")


def test_a_requirement_that_is_not_vendored_fails_the_build(tmp_path):
    (tmp_path / "app.py").write_text("def handle(request):\n    return b''\n")
    (tmp_path / "requirements.txt").write_text("leftpad==1.0\n")
    with pytest.raises(BuildError, match="leftpad"):
        build(tmp_path)

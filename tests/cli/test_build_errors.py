"""A build that fails shows the user's error, file and line, and nothing of Veil's internals.

`veil --debug` adds Veil's traceback and the failing tool's full output.
The messages often hold brackets (`[limits]`, `list[int]`): they must
reach the terminal as written, not be eaten as Rich markup.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.cli.runs import run
from veil.client.build.guest_errors import python_message

INTERNALS = ("veil/client", "veil/trusted", "veil/cli", "hermetic", "veil_guest", "/0/")
"""Paths and names of Veil's own code, which a user's build error must not show."""


def new(veil: CliRunner, tmp_path: Path, lang: str, name: str) -> Path:
    project = tmp_path / name
    run(veil, "new", "--lang", lang, name, "--dir", str(project))
    return project


def test_a_python_syntax_error_shows_the_users_file_line_and_error_only(
    veil: CliRunner, tmp_path: Path
) -> None:
    project = new(veil, tmp_path, "python", "pysyntax")
    app = project / "app.py"
    line = len(app.read_text().splitlines()) + 1
    app.write_text(app.read_text() + "def broken(:\n    pass\n")
    out = run(veil, "build", str(project), code=1)
    assert f'File "{app}", line {line}' in out
    assert "SyntaxError" in out
    assert not [name for name in INTERNALS if name in out], out


def test_a_javascript_module_that_throws_shows_its_message_file_and_line(
    veil: CliRunner, tmp_path: Path
) -> None:
    project = new(veil, tmp_path, "js", "jsthrows")
    handler = project / "handler.js"
    line = len(handler.read_text().splitlines()) + 1
    handler.write_text(handler.read_text() + 'throw new TypeError("no [env] table here");\n')
    out = run(veil, "build", str(project), code=1)
    assert f"{handler} does not load: TypeError: no [env] table here" in out
    assert f"{handler}:{line}:" in out
    assert "Traceback" not in out
    assert not [name for name in INTERNALS if name in out], out


def test_debug_shows_veils_traceback_as_well(veil: CliRunner, tmp_path: Path) -> None:
    project = new(veil, tmp_path, "js", "jsdebug")
    (project / "handler.js").write_text("export function handle( {\n")
    out = run(veil, "--debug", "build", str(project), code=1)
    assert "Traceback (most recent call last)" in out and "veil/cli" in out
    assert "SyntaxError" in out


def test_a_typo_in_limits_names_the_key_and_keeps_the_table_name(
    veil: CliRunner, tmp_path: Path
) -> None:
    project = new(veil, tmp_path, "wasm", "typo")
    toml = project / "veil.toml"
    toml.write_text(toml.read_text().replace("memory_pages =", "memory_page ="))
    out = run(veil, "build", str(project), code=1)
    assert f"unknown key 'memory_page' in [limits] of {toml} (did you mean 'memory_pages'?)" in out
    assert "TypeError" not in out and "Traceback" not in out


def test_limits_that_do_not_fit_each_other_are_refused_with_the_fix(
    veil: CliRunner, tmp_path: Path
) -> None:
    project = new(veil, tmp_path, "wasm", "tight")
    toml = project / "veil.toml"
    toml.write_text(toml.read_text().replace("memory_pages = 64", "memory_pages = 16"))
    out = run(veil, "deploy", str(project), code=1)
    assert "[limits] in" in out and "do not fit each other" in out
    assert "set memory_pages to at least 48" in out


def test_a_limit_over_what_the_sandbox_allows_is_refused_by_name(
    veil: CliRunner, tmp_path: Path
) -> None:
    project = new(veil, tmp_path, "wasm", "huge")
    toml = project / "veil.toml"
    toml.write_text(toml.read_text().replace("memory_pages = 64", "memory_pages = 70000"))
    out = run(veil, "build", str(project), code=1)
    assert "[limits] memory_pages" in out and "over its maximum 65536" in out
    assert "MalformedMessage" not in out


def test_a_veil_toml_that_is_not_text_is_refused_naming_it(veil: CliRunner, tmp_path: Path) -> None:
    project = new(veil, tmp_path, "wasm", "binary")
    (project / "veil.toml").write_bytes(b"\xff\xfe[function]\n")
    out = run(veil, "build", str(project), code=1)
    assert f"{project / 'veil.toml'} is not UTF-8 text" in out


# componentize-py's output as it prints it, cut to the shape that matters.
HERMETIC_FRAMES = """\
Traceback (most recent call last):
  File "/src/veil/client/build/hermetic/child.py", line 40, in main
    result = program()
AssertionError: Traceback (most recent call last):
"""


def test_a_module_level_exception_keeps_the_users_frames_with_their_paths() -> None:
    output = HERMETIC_FRAMES + (
        '  File "/0/veil_guest.py", line 21, in <module>\n'
        "    import app as _handler_module\n"
        '  File "/1/app.py", line 21, in <module>\n'
        "    helper()\n"
        '  File "/2/lib.py", line 3, in helper\n'
        '    raise ValueError("boom")\n'
        "ValueError: boom\n\n\nCaused by:\n    ValueError: boom\n"
    )
    message = python_message(output, {0: None, 1: Path("fn"), 2: Path("fn/vendor")}, "app")
    assert message is not None
    assert '  File "fn/app.py", line 21, in <module>\n    helper()' in message
    assert '  File "fn/vendor/lib.py", line 3, in helper' in message
    assert message.endswith("ValueError: boom")
    assert "veil_guest" not in message and "hermetic" not in message


def test_a_missing_handler_function_names_the_entrypoint() -> None:
    output = HERMETIC_FRAMES + (
        '  File "/0/veil_guest.py", line 23, in <module>\n'
        '    _handle = getattr(_handler_module, "handle")\n'
        "AttributeError: module 'app' has no attribute 'handle'\n"
    )
    message = python_message(output, {0: None, 1: Path("fn")}, "app")
    assert message == (
        "fn/app.py has no function 'handle' (the [function] entrypoint in veil.toml names it)"
    )


def test_output_without_a_guest_traceback_is_left_to_the_caller() -> None:
    assert python_message("error: failed to parse WIT\n", {0: None}, "app") is None

"""Text that is not Veil's own reaches the terminal exactly as written, brackets and all.

Rich reads `[word]` as markup; a function's error or log line, or a
server's message, printed as markup loses its `[config]` or `[debug]`.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.cli.runs import run

HANDLER = """export function handle(request) {
  console.log("[debug] got", request.text());
  if (request.text() === "fail") throw new Error("missing [config] value");
  return "[ok]";
}
"""


def test_a_functions_error_and_logs_keep_their_brackets(veil: CliRunner, tmp_path: Path) -> None:
    project = tmp_path / "brackets"
    run(veil, "new", "--lang", "js", "brackets", "--dir", str(project))
    (project / "handler.js").write_text(HANDLER)
    run(veil, "deploy", str(project))
    served = run(veil, "invoke", "brackets", "-d", "hi")
    assert "[debug] got hi" in served and "[ok]" in served
    failed = run(veil, "invoke", "brackets", "-d", "fail", code=1)
    assert "function failed:" in failed and "Error: missing [config] value" in failed

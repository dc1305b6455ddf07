"""Running one doc file's snippets for real, in order, as a reader would in a fresh clone.

Each doc file gets a scratch directory that stands in for the clone (its
`.venv` and `tests/` link to the real ones, `examples/` is a copy, so a
snippet may build into it), a data directory of its own (`VEIL_DATA_DIR`)
and two free ports. What the test changes in a block, and nothing else:

- the ports: `7070` and `7071` become the session's gateway and KMS ports,
  and `veil init` without `--gateway` is given both, so a doc can say what
  a user types without meeting another platform on this machine;
- `veil up` (a foreground server) runs in the background, and the block
  goes on once it printed `ready:`; it is stopped (SIGTERM, by its pid)
  when the file is done. A file with no `veil up` of its own gets `veil
  init` and `veil up` before its first block;
- a ```python block that imports `veil_function`, and every ```js block, is
  a function's source: it becomes the handler of a new project (`veil new`),
  which is deployed and invoked twice (text and JSON); other ```python
  blocks run as scripts (their line numbers in a traceback are the doc's).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tests.docs.snippets import ROOT, Snippet
from veil.wiring.processes import free_port

BLOCK_TIMEOUT_S: Final = 600.0
STOP_TIMEOUT_S: Final = 30.0
FIRST_INVOKE_TIMEOUT_S: Final = 300.0
"""A Python function's first request compiles it: seconds on an idle machine, minutes on
one loaded 10x over (as measured here)."""
UP_LOG: Final = ".veil-up.log"
UP_PIDS: Final = ".veil-up.pids"
PRELUDE: Final = f"""set -eo pipefail
veil_wait_ready() {{
  for _ in $(seq 1800); do
    grep -q '^ready:' {UP_LOG} 2>/dev/null && return 0
    kill -0 "$1" 2>/dev/null || {{ echo "veil up exited:"; cat {UP_LOG}; return 1; }}
    sleep 0.1
  done
  echo "veil up not ready after 180 s:"; cat {UP_LOG}; return 1
}}
"""
VEIL_UP: Final = re.compile(r"^(?P<indent>\s*)veil up\b(?P<args>[^#]*)(?P<comment>#.*)?$")
VEIL_INIT: Final = re.compile(r"^(?P<command>\s*veil init\b[^#]*?)(?P<comment>\s*#.*)?$")
HANDLER_FILES: Final = {"python": "app.py", "js": "handler.js"}


def starts_up(snippet: Snippet) -> bool:
    return snippet.lang == "sh" and any(VEIL_UP.match(line) for line in snippet.text.splitlines())


def is_handler(snippet: Snippet) -> bool:
    return snippet.lang == "js" or (
        snippet.lang == "python" and "from veil_function import" in snippet.text
    )


@dataclass(frozen=True)
class Ran:
    code: int
    output: str


class DocSession:
    """One doc file's scratch clone, data directory, ports and background `veil up`s."""

    def __init__(self, scratch: Path, own_up: bool) -> None:
        self.cwd, self.data_dir = scratch / "clone", scratch / "data"
        self.port, self.trust_port = free_port(), free_port()
        self.cwd.mkdir(parents=True)
        (self.cwd / ".venv").symlink_to(Path(sys.prefix))
        (self.cwd / "tests").symlink_to(ROOT / "tests")
        shutil.copytree(ROOT / "examples", self.cwd / "examples", ignore=_build_outputs)
        self.env = {
            **os.environ,
            "VEIL_DATA_DIR": str(self.data_dir),
            "PYTHONPATH": str(ROOT / "src"),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
        }
        if not own_up:
            started = self.sh("veil init\nveil up")
            if started.code != 0:
                raise AssertionError(f"the session's platform did not start:\n{started.output}")

    def run(self, snippet: Snippet) -> Ran:
        if is_handler(snippet):
            return self.handler(snippet)
        if snippet.lang == "python":
            return self.python(snippet)
        return self.sh(snippet.text)

    def sh(self, text: str) -> Ran:
        return self._run(["bash", "-c", PRELUDE + self._shell(text)])

    def python(self, snippet: Snippet) -> Ran:
        script = self.cwd / f"{snippet.where.replace('/', '_').replace(':', '-')}.py"
        script.write_text("\n" * (snippet.line) + self._ports(snippet.text) + "\n")
        return self._run([sys.executable, str(script)])

    def handler(self, snippet: Snippet) -> Ran:
        """`veil new` a project, make the snippet its handler, deploy it, invoke it twice."""
        name = f"snippet-{snippet.line}"
        lang = "python" if snippet.lang == "python" else "js"
        made = self.sh(f"veil new --lang {lang} {name}")
        if made.code != 0:
            return made
        (self.cwd / name / HANDLER_FILES[lang]).write_text(snippet.text + "\n")
        invoke = f"veil invoke {name} --timeout {FIRST_INVOKE_TIMEOUT_S:g}"
        return self.sh(
            f"veil deploy {name}\n{invoke} -d world\n{invoke} -d '{{\"snippet\": {snippet.line}}}'"
        )

    def up_log(self) -> str:
        log = self.cwd / UP_LOG
        return log.read_text() if log.exists() else ""

    def close(self) -> None:
        """Stop every `veil up` this session started (SIGTERM, then wait for it to exit)."""
        pids = self.cwd / UP_PIDS
        for pid in (int(p) for p in pids.read_text().split()) if pids.exists() else ():
            if _is_veil_up(pid):
                os.kill(pid, signal.SIGTERM)
                _wait_gone(pid)

    def _shell(self, text: str) -> str:
        lines = []
        for line in self._ports(text).splitlines():
            up, init = VEIL_UP.match(line), VEIL_INIT.match(line)
            if up:
                line = (
                    f"{up['indent']}veil up{up['args'].rstrip()} >> {UP_LOG} 2>&1 &"
                    f' echo $! >> {UP_PIDS}; veil_wait_ready "$!"'
                )
            elif init and "--gateway" not in init["command"]:
                urls = f"--gateway http://127.0.0.1:{self.port} --kms http://127.0.0.1:{self.trust_port}"
                line = f"{init['command'].rstrip()} {urls}{init['comment'] or ''}"
            lines.append(line)
        return "\n".join(lines) + "\n"

    def _ports(self, text: str) -> str:
        text = re.sub(r"\b7070\b", str(self.port), text)
        return re.sub(r"\b7071\b", str(self.trust_port), text)

    def _run(self, argv: list[str]) -> Ran:
        try:
            done = subprocess.run(
                argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=BLOCK_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as exc:
            output = exc.output if isinstance(exc.output, str) else ""
            return Ran(-1, f"{output}\n(timed out after {BLOCK_TIMEOUT_S:g} s)")
        return Ran(done.returncode, done.stdout)


def _build_outputs(_dir: str, names: list[str]) -> list[str]:
    return [n for n in names if n.endswith(".bundle") or n == "__pycache__"]


def _is_veil_up(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"up" in argv and any(arg.endswith(b"veil") for arg in argv)


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _is_veil_up(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)  # ours, and it ignored SIGTERM: a defect the log shows
            return
        time.sleep(0.05)

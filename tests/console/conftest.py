"""The console in a real headless Chromium (Debian's `chromium`, driven by Playwright).

One embedded platform for the directory, one function deployed and invoked
on it with a secret marker input, and one browser with a fresh profile and
no network of its own: every test reads the page the gateway served it.
Screenshots go to `build/screenshots/` (the run keeps them; git ignores them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Request, sync_playwright
from typer.testing import CliRunner

from tests.cli.runs import run
from veil.wiring.embedded import EmbeddedPlatform

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
MARKER = "console-secret-8c1f5e"
"""Every invocation's input here: plaintext the host never sees, so the page must not show."""
INVOCATIONS = 3
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Invoked:
    """The platform, the function deployed on it, and what its invocations printed."""

    platform: EmbeddedPlatform
    name: str
    outputs: list[str] = field(default_factory=list)


@pytest.fixture(scope="package")
def invoked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Invoked]:
    work = tmp_path_factory.mktemp("console")
    with EmbeddedPlatform(work / "data") as platform:
        veil = CliRunner(env={"VEIL_DATA_DIR": str(platform.data_dir)})
        gateway, kms = platform.gateway_url, platform.trust_url
        run(veil, "init", "--tenant", "ops", "--gateway", gateway, "--kms", kms)
        run(veil, "new", "shown", "--dir", str(work / "shown"))
        run(veil, "deploy", str(work / "shown"))
        done = Invoked(platform, "ops/shown")
        for _ in range(INVOCATIONS):
            done.outputs.append(run(veil, "invoke", "shown", "--data", MARKER))
        yield done


def chromium() -> Path:
    """Debian's chromium; missing, a skip off CI (with the fix), a failure on CI."""
    if CHROMIUM.exists():
        return CHROMIUM
    reason = "no /usr/bin/chromium: `apt-get install -y chromium` (.ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="package")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    executable = chromium()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(executable),
            headless=True,
            args=FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


@dataclass
class Console:
    """The console page, loaded and refreshed past the invocations, and every request it made."""

    page: Page
    requests: list[Request]


@pytest.fixture(scope="package")
def console(invoked: Invoked, browser: BrowserContext) -> Iterator[Console]:
    page = browser.new_page()
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    page.goto(f"{invoked.platform.gateway_url}/console")
    chart = f'figure[data-function="{invoked.name}"] rect.bar.ok'
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('{chart}')]
            .reduce((n, bar) => n + Number(bar.dataset.count), 0) >= {INVOCATIONS}""",
        timeout=30_000,
    )
    screenshot(page, "console")
    yield Console(page, requests)
    page.close()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

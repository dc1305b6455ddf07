"""The web console at /console, read in headless Chromium: what it shows and what it never does."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.console.conftest import INVOCATIONS, MARKER, Console, Invoked, screenshot
from veil.attestation.sim import WARNING


def gateway_json(invoked: Invoked, path: str) -> Any:
    return httpx.get(f"{invoked.platform.gateway_url}{path}").json()


def claims(token: str) -> dict[str, Any]:
    """The verifier token's payload, decoded here independently of the page's script."""
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # type: ignore[no-any-return]


def test_each_function_is_listed_with_its_version_digest_and_invocations(
    console: Console, invoked: Invoked
) -> None:
    (listed,) = [f for f in gateway_json(invoked, "/v1/functions") if f["name"] == invoked.name]
    row = console.page.locator(f'#functions tr[data-function="{invoked.name}"] td')
    cells = row.all_inner_texts()
    assert cells[:3] == [invoked.name, str(listed["version"]), f"{listed['digest'][:16]}…"]
    assert cells[3:5] == [str(INVOCATIONS), "0"]  # ok, errors


def test_each_enclave_shows_its_tee_measurement_tcb_status_and_expiry(
    console: Console, invoked: Invoked
) -> None:
    enclaves = gateway_json(invoked, "/v1/enclaves")
    assert enclaves
    for enclave in enclaves:
        said = claims(enclave["attestation"])
        row = console.page.locator(f'#enclaves tr[data-enclave="{enclave["id"]}"] td')
        cells = row.all_inner_texts()
        assert cells[2] == "sim" == said["tee"]
        assert cells[3] == said["measurement"] and len(said["measurement"]) == 64
        assert cells[4] == said["tcb_status"] and cells[5] == "none"  # no advisories
        assert "(in " in cells[7] and "min)" in cells[7]


def test_the_chart_of_a_function_counts_its_invocations(console: Console, invoked: Invoked) -> None:
    figure = console.page.locator(f'figure[data-function="{invoked.name}"]')
    bars = figure.locator("rect.bar.ok")
    assert sum(int(bar.get_attribute("data-count") or 0) for bar in bars.all()) == INVOCATIONS
    assert figure.locator("rect.bar.error").count() == 0
    assert figure.locator("polyline.latency").count() == 1
    assert f"{INVOCATIONS} ok, 0 errors" in figure.locator("figcaption").inner_text()


def test_the_event_log_shows_the_deploy_and_the_cold_start(
    console: Console, invoked: Invoked
) -> None:
    log = console.page.locator("#events")
    deployed = log.locator('tr[data-kind="deployed"]').all_inner_texts()
    assert any(f"function={invoked.name}" in row for row in deployed), deployed
    assert log.locator('tr[data-kind="cold_start"]').count() >= 1
    assert log.locator('tr[data-kind="enclave_started"]').count() >= 1


def test_the_page_says_it_is_the_host_view_and_warns_that_the_tee_is_simulated(
    console: Console,
) -> None:
    banner = console.page.locator("#host-view")
    assert banner.is_visible()
    assert "host view: what the machine's owner sees" in banner.inner_text()
    warning = console.page.locator("#sim-warning")
    assert warning.is_visible() and WARNING in warning.inner_text()


def test_the_page_loads_nothing_from_anywhere_but_the_gateway(
    console: Console, invoked: Invoked
) -> None:
    """Before the CSP test below tries (and fails) to load a script from elsewhere."""
    gateway = urlsplit(invoked.platform.gateway_url).netloc
    hosts = {urlsplit(r.url).netloc for r in console.requests if not r.url.startswith("data:")}
    assert hosts == {gateway}
    paths = {urlsplit(r.url).path for r in console.requests}
    assert {"/console", "/console/console.js", "/console/console.css", "/v1/stats"} <= paths


def test_no_input_or_output_plaintext_reaches_the_page(console: Console, invoked: Invoked) -> None:
    assert all(MARKER in out for out in invoked.outputs)  # the client saw it, in clear
    assert MARKER not in console.page.content()
    for path in ("/v1/functions", "/v1/enclaves", "/v1/stats", "/v1/events"):
        assert MARKER not in httpx.get(f"{invoked.platform.gateway_url}{path}").text


def test_the_page_never_asks_for_anything(console: Console) -> None:
    assert console.page.locator("input, textarea, select, form, button").count() == 0


def test_the_content_security_policy_blocks_a_remote_script(console: Console) -> None:
    """Even a script someone managed to put into the page cannot load anything from elsewhere."""
    blocked = console.page.evaluate(
        """() => new Promise((resolve) => {
            document.addEventListener("securitypolicyviolation",
                (e) => resolve(e.blockedURI), { once: true });
            const script = document.createElement("script");
            script.src = "https://cdn.invalid/chart.js";
            document.head.appendChild(script);
        })"""
    )
    assert blocked == "https://cdn.invalid/chart.js"
    (attempt,) = [r for r in console.requests if "cdn.invalid" in r.url]
    assert attempt.failure == "csp"  # refused by the browser itself: never sent


def test_the_console_headers_forbid_remote_sources(invoked: Invoked) -> None:
    for path in ("/console", "/console/console.js", "/console/console.css"):
        answer = httpx.get(f"{invoked.platform.gateway_url}{path}")
        assert answer.status_code == 200
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "connect-src 'self'" in policy
        assert "http" not in policy  # no remote origin allowed anywhere


def test_only_the_console_s_own_files_are_served(invoked: Invoked) -> None:
    for path in ("/console/index.html", "/console/__init__.py", "/console/..%2fapp.py"):
        assert httpx.get(f"{invoked.platform.gateway_url}{path}").status_code == 404


def test_the_page_says_when_the_gateway_stops_answering(console: Console) -> None:
    """Last, as it cuts the page off from the gateway: the page says so, and keeps trying."""
    page = console.page
    page.route("**/v1/**", lambda route: route.abort())  # as if the gateway had gone
    page.wait_for_selector("#status.down", timeout=15_000)
    assert "not answering" in page.locator("#status").inner_text()
    screenshot(page, "console-gateway-down")
    page.unroute("**/v1/**")

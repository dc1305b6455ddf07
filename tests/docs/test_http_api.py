"""docs/http-api.md says what the gateway and the KMS serve, and it stays true.

Checked against a real gateway (no enclaves: none is needed) and a real
KMS service on uvicorn: every path they serve is in the page's tables and
every path in the tables is served, `/docs` and `/redoc` are off (their
pages would load scripts from a CDN), and every metric is in the metrics
table with its type and labels, and nothing else is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.docs.snippets import ROOT
from tests.serving import serving
from veil.host.metrics import Metrics
from veil.host.pool import PoolConfig
from veil.kms.server import trust_app
from veil.wiring.direct import DirectPlatform
from veil.wiring.services import build_gateway

PAGE = ROOT / "docs" / "http-api.md"
ROW = re.compile(r"^\| (?P<method>GET|POST|PUT|PATCH|DELETE) \| `(?P<path>[^`]+)` \|")
METRIC_ROW = re.compile(r"^\| `(?P<name>veil_\w+)` \| (?P<type>\w+) \| (?P<labels>[^|]+) \|")
SERVED_ONLY = {("GET", "/openapi.json")}
"""In the tables, but FastAPI does not list its own schema among the paths."""


@pytest.fixture(scope="module")
def urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(gateway URL, KMS URL) of a real gateway and KMS service."""
    data = tmp_path_factory.mktemp("http-api")
    platform = DirectPlatform(data / "platform")
    with serving(trust_app(platform.kms, platform.verifier, "admin")) as trust_url:
        app, _dispatcher = build_gateway(
            data / "gateway", trust_url, PoolConfig(stem_cells=0, max_workers=1)
        )
        with serving(app) as gateway_url:
            yield gateway_url, trust_url


def documented_routes(table_title: str) -> set[tuple[str, str]]:
    """The (method, path) rows of the table that follows the line starting `table_title`."""
    lines = PAGE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(table_title))
    routes = set()
    for line in lines[start + 1 :]:
        if line and not line.startswith("|"):
            break
        if match := ROW.match(line):
            routes.add((match["method"], match["path"]))
    return routes


def served_routes(url: str) -> set[tuple[str, str]]:
    schema = httpx.get(f"{url}/openapi.json").raise_for_status().json()
    return {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}


@pytest.mark.parametrize(("service", "title"), [(0, "Gateway ("), (1, "KMS and verifier (")])
def test_the_endpoint_tables_list_exactly_what_is_served(
    urls: tuple[str, str], service: int, title: str
) -> None:
    served, documented = served_routes(urls[service]), documented_routes(title) - SERVED_ONLY
    assert served - documented == set(), f"serve but undocumented in {PAGE.name}"
    assert documented - served == set(), f"documented in {PAGE.name} but not served"


@pytest.mark.parametrize("service", [0, 1])
@pytest.mark.parametrize("page", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_no_page_that_loads_a_cdn_is_served(urls: tuple[str, str], service: int, page: str) -> None:
    assert httpx.get(urls[service] + page).status_code == 404


@pytest.mark.parametrize("service", [0, 1])
def test_the_openapi_schema_is_served_as_json(urls: tuple[str, str], service: int) -> None:
    answer = httpx.get(urls[service] + "/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["openapi"].startswith("3.")


def documented_metrics() -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (type, labels) from the metrics table ("none" for no labels)."""
    found = {}
    for line in PAGE.read_text().splitlines():
        if match := METRIC_ROW.match(line):
            labels = tuple(re.findall(r"`(\w+)`", match["labels"]))
            found[match["name"]] = (match["type"], labels)
    return found


def test_the_metrics_table_lists_every_served_metric_with_its_type(urls: tuple[str, str]) -> None:
    text = httpx.get(urls[0] + "/metrics").raise_for_status().text
    served = {
        name: kind
        for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE)
        if not name.endswith("_created")
    }
    assert served == {name: kind for name, (kind, _labels) in documented_metrics().items()}


def test_the_metrics_table_names_each_metrics_labels() -> None:
    exposed = {"counter": "_total"}
    labels = {
        f"{m._name}{exposed.get(m._type, '')}": tuple(m._labelnames)
        for m in vars(Metrics()).values()
        if hasattr(m, "_labelnames")
    }
    assert labels == {name: labels for name, (_kind, labels) in documented_metrics().items()}


def test_the_readme_links_the_page() -> None:
    assert "(docs/http-api.md)" in (ROOT / "README.md").read_text()

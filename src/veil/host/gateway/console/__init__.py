"""`GET /console`: the host's web console, three static files served by the gateway.

It shows what the gateway's own JSON routes show any caller (functions,
enclaves and their attestation claims, `/v1/stats`, the event log): the
host's view, which the page says in a banner. It has no form and never
asks for a tenant key; it could not show an input or output if it wanted
to, since the gateway never holds one. Everything it loads comes from the
gateway itself, and its Content-Security-Policy forbids anything else
(no CDN: it works on a closed network). Its script writes host-provided
text only as text (`textContent`), never as markup: a function name is
somebody else's text.
"""

from __future__ import annotations

from html import escape
from importlib.resources import files
from typing import Final

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from veil.attestation.sim import WARNING

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
ASSETS: Final = {"console.js": "text/javascript", "console.css": "text/css"}
"""The only files served besides the page: a fixed list, so no path reaches anything else."""


def _text(name: str) -> str:
    return files(__package__).joinpath(name).read_text(encoding="utf-8")


def page() -> str:
    """The console's HTML, with the sim-TEE warning (shown by the script when one is sim)."""
    return _text("index.html").replace("{{SIM_WARNING}}", escape(WARNING))


def console_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/console")
    def console() -> Response:
        return Response(page(), media_type="text/html; charset=utf-8", headers=HEADERS)

    @router.get("/console/{asset}")
    def asset(asset: str) -> Response:
        if asset not in ASSETS:
            raise HTTPException(404, "no such console file")
        return Response(_text(asset), media_type=ASSETS[asset], headers=HEADERS)

    return router

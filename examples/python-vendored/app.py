"""A Veil function importing a vendored pure-Python package (vendor/wordstats)."""

import wordstats
from veil_function import Request, Response


def handle(request: Request) -> Response:
    return Response.json(wordstats.summarise(request.text()))

"""Request and Response for Veil Python functions (bundled into every function).

A handler is `def handle(request: Request) -> Response`; it may also return
bytes, a str (sent as UTF-8) or any JSON-serialisable value (sent as JSON).
`variable(name)` reads the function's secrets and `[config]` values.
"""

from __future__ import annotations

import json
from typing import Any


class Request:
    """The decrypted request body, as bytes, with text and JSON views."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body

    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


class Response:
    """The body sealed back to the client."""

    __slots__ = ("body",)

    def __init__(self, body: bytes | str = b"") -> None:
        self.body = body.encode("utf-8") if isinstance(body, str) else bytes(body)

    @classmethod
    def json(cls, value: Any) -> Response:
        return cls(json.dumps(value, separators=(",", ":"), ensure_ascii=False))

    @classmethod
    def text(cls, value: str) -> Response:
        return cls(value)


def to_bytes(result: Any) -> bytes:
    """The response body for whatever a handler returned."""
    if isinstance(result, Response):
        return result.body
    if isinstance(result, bytes | bytearray | memoryview):
        return bytes(result)
    if isinstance(result, str):
        return result.encode("utf-8")
    if result is None:
        return b""
    return Response.json(result).body


def variable(name: str) -> str | None:
    """A secret (`veil secret set`) or `[config]` value of this function, or None if unset.

    Call it while handling a request: at build time, when the handler's module
    body runs, there are none. Secrets are read fresh on each call, so a
    rotated secret shows up on the next request without a redeploy.
    """
    import wit_world  # the component's bindings: they exist only inside a built function

    value = wit_world.variable(name)
    return None if value is None else value.decode("utf-8")

"""The gateway benchmark's baseline: the same Wasm echo behind a bare uvicorn app.

No envelopes, no enclave, no receipts, no worker process: a Starlette
route on uvicorn (httptools, uvloop) that writes the body into the
module's memory with plain wasmtime-py, calls `veil_invoke` and returns
the bytes it points at. What the secure gateway is compared with.

    python -m veil.bench.baseline_app --port 7080 --workers 2

With `--workers N` (N > 1) uvicorn's supervisor binds the socket and N
worker processes, each with its own wasmtime instance, accept on it: the
bench gives the baseline as many serving processes as the secure side has
(gateway + enclave workers). `/healthz` names the answering process, so
the bench can wait until every worker serves before it measures.
"""

from __future__ import annotations

import argparse
import os

import uvicorn
import wasmtime
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from veil.samples import wasm


class PlainEcho:
    """One wasmtime instance of a Veil reactor module, called with wasmtime's ordinary API."""

    def __init__(self, code: bytes) -> None:
        engine = wasmtime.Engine()
        self.store = wasmtime.Store(engine)
        instance = wasmtime.Instance(self.store, wasmtime.Module(engine, code), [])
        exports = instance.exports(self.store)
        memory, alloc, invoke = exports["memory"], exports["veil_alloc"], exports["veil_invoke"]
        assert isinstance(memory, wasmtime.Memory)
        assert isinstance(alloc, wasmtime.Func) and isinstance(invoke, wasmtime.Func)
        self.memory, self.invoke = memory, invoke
        self.base = alloc(self.store, 0)

    def __call__(self, data: bytes) -> bytes:
        store, memory = self.store, self.memory
        need = self.base + len(data) - memory.data_len(store)
        if need > 0:
            memory.grow(store, need // 65536 + 1)
        memory.write(store, data, self.base)  # one reused buffer: no allocator bookkeeping
        packed = self.invoke(store, self.base, len(data))
        start = (packed >> 32) & 0xFFFFFFFF
        return bytes(memory.read(store, start, start + (packed & 0xFFFFFFFF)))


def baseline_app(function: str = "echo") -> Starlette:
    call = PlainEcho(wasm(function))

    async def invoke(request: Request) -> Response:
        return Response(call(await request.body()), media_type="application/octet-stream")

    async def health(_request: Request) -> Response:
        body = f'{{"status":"ok","pid":{os.getpid()}}}'.encode()
        return Response(body, media_type="application/json")

    return Starlette(
        routes=[
            Route("/invoke", invoke, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )


FUNCTION_ENV = "VEIL_BASELINE_FUNCTION"


def app_from_env() -> Starlette:
    """The factory uvicorn's worker processes import (they cannot be handed an app object)."""
    return baseline_app(os.environ.get(FUNCTION_ENV, "echo"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m veil.bench.baseline_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--function", default="echo")
    parser.add_argument("--workers", type=int, default=1, help="serving processes")
    args = parser.parse_args(argv)
    os.environ[FUNCTION_ENV] = args.function
    uvicorn.run(
        "veil.bench.baseline_app:app_from_env",
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        http="httptools",
        loop="uvloop",
    )


if __name__ == "__main__":
    main()

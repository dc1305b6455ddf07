"""Serve an ASGI app on a real uvicorn, in a thread, on a free loopback port (for tests)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import uvicorn


@contextlib.contextmanager
def serving(app: Any, health: str = "/healthz") -> Iterator[str]:
    """The app's base URL while it serves; `health` must answer 200 before it is handed out.

    The socket is bound before uvicorn starts, so no other process can take the port
    between choosing it and listening on it.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        for _ in range(400):
            if server.started:
                break
            time.sleep(0.025)
        httpx.get(url + health).raise_for_status()
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()

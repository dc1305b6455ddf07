"""Test function: each request body names one behaviour the sandbox must contain."""

import os
import random

from veil_function import Request, Response, variable

try:  # imported at build time, so it is in the component if CPython for WASI has it
    import socket
except ImportError:
    socket = None

SEEN: list[str] = []


def handle(request: Request) -> Response:
    command = request.text()
    if command.startswith("remember:"):
        SEEN.append(command)
        return Response.json(SEEN)
    if command.startswith("variable:"):
        return Response.json(variable(command.removeprefix("variable:")))
    if command == "loop":
        while True:
            pass
    if command == "bomb":
        hog = []
        while True:
            hog.append(bytearray(1 << 20))
    if command == "raise":
        raise ValueError("tenant bug")
    if command == "socket":
        if socket is None:
            return Response.text("refused: no socket module")
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.connect(("127.0.0.1", 80))
                return Response.text("connected")
        except Exception as exc:
            return Response.text(f"refused: {type(exc).__name__}: {exc}")
    if command == "passwd":
        try:
            with open("/etc/passwd") as f:
                return Response.text("read: " + f.read(20))
        except OSError as exc:
            return Response.text(f"refused: {type(exc).__name__}")
    if command == "random":
        return Response.json([random.random(), random.random()])
    if command == "env":
        return Response.json(dict(os.environ))
    if command == "print":
        print("to stdout")
        os.write(2, b"raw stderr\n")
        return Response.text("printed")
    return Response.text("unknown command")

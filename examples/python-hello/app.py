"""A Veil function in Python: greets the caller, echoes JSON, shows the sandbox's edges."""

from veil_function import Request, Response

GREETING = "hello"


def handle(request: Request) -> Response:
    if request.body.startswith(b"{"):
        payload = request.json()
        print("json request with keys", sorted(payload))
        return Response.json({"greeting": GREETING, "echo": payload})
    name = request.text() or "world"
    print("greeting", name)
    return Response.text(f"{GREETING}, {name}!")

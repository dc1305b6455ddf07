"""`veil.toml`: the one parser of a function project's settings, for every runtime.

    [function]
    name = "hello"            # the tenant prefix ("acme/") is added on deploy
    version = "0.1.0"
    runtime = "python"        # wasm | python | js
    abi = "reactor"           # wasm only: reactor | wasi-command
    entrypoint = "app:handle" # python: module:function; js: the exported function
    source = "handler.js"     # wasm: main.wat or .wasm; js: the handler module
    suite = "x25519"
    capture_logs = true

    [limits]                  # any of veil.trusted.bundle.Limits
    memory_pages = 1024       # 64 KiB pages
    fuel = 1000000000
    timeout_ms = 2000

    [config]                  # plain strings the function reads with `variable(name)`
    greeting = "hello"        # in the clear manifest: the host can read them (secrets
                              # go to the KMS with `veil secret set` instead)

Anything left out takes the runtime's default below (CPython needs far
more memory and fuel than QuickJS, and both more than a raw Wasm module).
Anything else is refused by name: a misspelt limit silently left at its
default is a function that fails in production, not at build time.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final, Literal, cast, get_args

from veil.secret_request import check_name
from veil.trusted.bundle import Limits, Manifest
from veil.trusted.errors import MalformedMessage

MANIFEST_FILE: Final = "veil.toml"
Runtime = Literal["wasm", "python", "js"]
RUNTIMES: Final[tuple[Runtime, ...]] = get_args(Runtime)
WASM_ENTRYPOINT: Final = "veil_invoke"

DEFAULTS: Final[dict[Runtime, dict[str, Any]]] = {
    "wasm": {"abi": "reactor", "entrypoint": WASM_ENTRYPOINT, "source": "main.wat", "limits": {}},
    "python": {
        "abi": "component",
        "entrypoint": "app:handle",
        "source": "app.py",
        "limits": {"memory_pages": 1024, "fuel": 1_000_000_000, "timeout_ms": 2000},
    },
    "js": {
        "abi": "quickjs",
        "entrypoint": "handle",
        "source": "handler.js",
        # QuickJS's text() and Response.text() cost ~5000 fuel a byte: at this fuel, 64 KiB.
        "limits": {
            "memory_pages": 256,
            "fuel": 400_000_000,
            "timeout_ms": 2000,
            "max_input": 64 * 1024,
        },
    },
}
"""Per runtime: what a `veil.toml` that leaves a key out gets."""

_FUNCTION_KEYS: Final[dict[str, type]] = {
    "name": str,
    "version": str,
    "runtime": str,
    "abi": str,
    "entrypoint": str,
    "source": str,
    "suite": str,
    "capture_logs": bool,
}
_LIMIT_KEYS: Final = tuple(f.name for f in fields(Limits))
WASM_PAGE: Final = 64 * 1024
LIMIT_MAXIMA: Final[dict[str, int]] = {
    "memory_pages": 65536,  # 4 GiB, all a 32-bit Wasm memory can address
    "fuel": 2**63 - 1,
    "timeout_ms": 300_000,  # the gateway caps a request's deadline at 300 s
    "max_input": 16 * 2**20,  # an envelope holds at most 16 MiB
    "max_output": 16 * 2**20,
}
"""The largest value of each limit: past it the sandbox or the wire would refuse it later."""
_TABLES: Final = ("function", "limits", "config")


class BuildError(ValueError):
    """The function's source cannot be built into a bundle (the message says what to fix).

    The message is about the user's code only; `detail` keeps the failing
    tool's whole output (Veil's own frames included) for `veil --debug`.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class InvalidVeilToml(BuildError):
    """`veil.toml` is not valid TOML, or names a key, table, type or value Veil does not know.

    Contrast with a plain `BuildError`: the settings are fine, the source is not.
    """


class BuildNotReproducible(UserWarning):
    """The bundle was built, but a rebuild of the same source would not give the same digest."""


@dataclass(frozen=True)
class Project:
    """A function project as its `veil.toml` describes it, every default filled in."""

    path: Path
    name: str
    version: str
    runtime: Runtime
    abi: str
    entrypoint: str
    source: str
    suite: str
    capture_logs: bool
    limits: Limits
    config: dict[str, str] = field(default_factory=dict)

    def manifest(self, tenant: str | None = None) -> Manifest:
        """The bundle manifest; `tenant` prefixes a bare name ("hello" -> "acme/hello")."""
        name = f"{tenant}/{self.name}" if tenant and "/" not in self.name else self.name
        try:
            return Manifest(
                name=name,
                version=self.version,
                runtime=self.runtime,
                abi=self.abi,
                entrypoint=self.entrypoint,
                limits=self.limits,
                suite=self.suite,
                capture_logs=self.capture_logs,
                config=self.config,
            )
        except MalformedMessage as exc:
            raise InvalidVeilToml(f"{self.path / MANIFEST_FILE}: {exc}") from None


def read_project(src_dir: Path) -> Project:
    """Read `src_dir/veil.toml`; without one, guess the runtime from the files present."""
    src_dir = Path(src_dir)
    file = src_dir / MANIFEST_FILE
    if file.is_file():
        try:
            text = file.read_text("utf-8")
        except UnicodeDecodeError:
            raise InvalidVeilToml(f"{file} is not UTF-8 text") from None
        return parse_project(text, src_dir)
    for runtime in ("js", "python", "wasm"):
        if (src_dir / DEFAULTS[runtime]["source"]).is_file():
            return parse_project(f'[function]\nruntime = "{runtime}"\n', src_dir)
    raise BuildError(f"no {MANIFEST_FILE} in {src_dir}: create one with `veil new NAME`")


def parse_project(text: str, src_dir: Path) -> Project:
    """Parse the text of `src_dir/veil.toml`, refusing what it does not know by name."""
    where = src_dir / MANIFEST_FILE
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidVeilToml(f"{where}: {exc}") from None
    for key, value in doc.items():
        if key not in _TABLES:
            kind = "table" if isinstance(value, dict) else "key"
            shown = f"[{key}]" if kind == "table" else repr(key)
            raise InvalidVeilToml(f"unknown {kind} {shown} in {where}{_hint(key, _TABLES)}")
    fn = _table(doc, "function", where, _FUNCTION_KEYS)
    limits = _table(doc, "limits", where, dict.fromkeys(_LIMIT_KEYS, int))
    for key, value in limits.items():
        if value <= 0:
            raise InvalidVeilToml(f"[limits] {key} in {where} must be a positive integer")
        if value > LIMIT_MAXIMA[key]:
            raise InvalidVeilToml(
                f"[limits] {key} in {where} is {value}, over its maximum {LIMIT_MAXIMA[key]}"
            )
    runtime = fn.get("runtime", "wasm")
    if runtime not in RUNTIMES:
        raise InvalidVeilToml(
            f"[function] runtime in {where} is {runtime!r}; known: {', '.join(RUNTIMES)}"
        )
    defaults = DEFAULTS[cast(Runtime, runtime)]
    entry = fn.get("entrypoint")
    return Project(
        path=src_dir,
        name=fn.get("name", src_dir.resolve().name),
        version=fn.get("version", "0.1.0"),
        runtime=runtime,
        abi=fn.get("abi", defaults["abi"]),
        entrypoint=defaults["entrypoint"] if entry in (None, "", WASM_ENTRYPOINT) else entry,
        source=fn.get("source", defaults["source"]),
        suite=fn.get("suite", "x25519"),
        capture_logs=fn.get("capture_logs", False),
        limits=_fitting(Limits(**{**defaults["limits"], **limits}), where),
        config=_config(doc, where),
    )


def _config(doc: dict[str, Any], where: Path) -> dict[str, str]:
    """`[config]`: variable names (as for secrets) to strings."""
    value = doc.get("config", {})
    if not isinstance(value, dict):
        raise InvalidVeilToml(f"'config' in {where} must be a table, [config]")
    for key, item in value.items():
        try:
            check_name(key)
        except ValueError as exc:
            raise InvalidVeilToml(f"[config] in {where}: {exc}") from None
        if not isinstance(item, str):
            raise InvalidVeilToml(f"[config] {key} in {where} must be a string, not {item!r}")
    return dict(value)


def _fitting(limits: Limits, where: Path) -> Limits:
    """`limits`, if one request's input and output fit in the memory they allow.

    The sandbox copies the whole input into the function's memory and the
    function writes its whole output there, so memory smaller than both
    traps on inputs the input limit accepts.
    """
    memory = limits.memory_pages * WASM_PAGE
    needed = limits.max_input + limits.max_output
    if memory < needed:
        pages = -(-needed // WASM_PAGE)
        raise InvalidVeilToml(
            f"[limits] in {where} do not fit each other: memory_pages = {limits.memory_pages} "
            f"({_size(memory)}) cannot hold max_input ({_size(limits.max_input)}) plus "
            f"max_output ({_size(limits.max_output)}); set memory_pages to at least {pages}"
        )
    return limits


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n / 2**10:g} KiB"


def _table(doc: dict[str, Any], table: str, where: Path, schema: dict[str, type]) -> dict[str, Any]:
    """`doc[table]`, each key known and each value of the schema's type."""
    value = doc.get(table, {})
    if not isinstance(value, dict):
        raise InvalidVeilToml(f"{table!r} in {where} must be a table, [{table}]")
    for key, item in value.items():
        if key not in schema:
            hint = _hint(key, schema)
            raise InvalidVeilToml(f"unknown key {key!r} in [{table}] of {where}{hint}")
        expected = schema[key]
        # TOML booleans are Python bools, which are ints too: never accept one for the other.
        if not isinstance(item, expected) or (expected is int and isinstance(item, bool)):
            raise InvalidVeilToml(
                f"[{table}] {key} in {where} must be {_TYPE_NAMES[expected]}, "
                f"not {type(item).__name__} {item!r}"
            )
    return value


_TYPE_NAMES: Final = {str: "a string", int: "a positive integer", bool: "true or false"}


def _hint(key: str, known: Any) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(known)}"

"""`veil logs NAME [-f]`: what a function printed, opened here with the tenant's log key.

The host serves sealed entries only (`veil.host.logstore`); they are opened,
checked and de-duplicated by `veil.client.logs.LogReader`. An entry the
host tampered with or spliced in from another function is skipped with a
warning; a request id already shown is dropped without one.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Final

from veil.cli.context import emit_json_line, gateway_client, state
from veil.cli.output import out, plain, say, warn
from veil.client.config import ClientConfig
from veil.client.logs import LOG_KEY_FILE, LogLine, LogReader, create_log_key, load_log_key
from veil.client.sdk import Client
from veil.trusted.crypto import hazmat

POLL_S: Final = 0.5
"""How often `-f` asks the gateway for new entries."""


def tenant_log_key(data_dir: Path) -> hazmat.HpkePrivateKey:
    """The tenant's log key, made (and said so) if this data dir has none yet."""
    path = data_dir / LOG_KEY_FILE
    if path.exists():
        return load_log_key(path)
    key = create_log_key(path)
    say("created the tenant log key {} (mode 0600): function prints are sealed to it", path)
    return key


def show(config: ClientConfig, name: str, *, follow: bool, json_: bool) -> None:
    """Print `name`'s log, oldest first; with `follow`, keep polling until Ctrl-C."""
    path = state.data_dir / LOG_KEY_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"no tenant log key at {path}: `veil init` or `veil deploy` makes one"
        )
    full = name if "/" in name else f"{config.tenant}/{name}"
    reader = LogReader(load_log_key(path), full)
    with gateway_client(config) as client:
        try:
            while True:
                _read_all(client, reader, json_)
                if not follow:
                    return
                time.sleep(POLL_S)
        except KeyboardInterrupt:
            return


def _read_all(client: Client, reader: LogReader, json_: bool) -> None:
    """Every entry after the last one read, a page at a time, while the host's numbers grow."""
    while True:
        before = reader.last_seq
        answer = client.function_logs(reader.function, reader.last_seq)
        entries = answer.get("entries") if isinstance(answer, dict) else None
        if not isinstance(entries, list):
            warn("the gateway's answer for logs does not parse: skipped")
            return
        lines, refused = reader.read(entries)
        for exc in refused:
            warn(f"skipped a log entry the host served: {exc}")
        for line in lines:
            _print(line, json_)
        sys.stdout.flush()
        if not entries or reader.last_seq <= before:
            return


def _print(line: LogLine, json_: bool) -> None:
    if json_:
        emit_json_line(line.to_json())
        return
    stamp = datetime.fromtimestamp(line.served_ms / 1000).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    head = f"{stamp} {line.request_id.hex()[:12]} v{line.version}"
    text = line.text.decode(errors="replace").rstrip("\n")
    for part in text.split("\n") or [""]:
        plain(f"{head}  {part}", out)

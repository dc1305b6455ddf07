"""Wiring: the one package that starts Veil's services together, above host, kms and client.

Each service package stands alone (the host reaches the KMS only through
`veil.host.trust.TrustServices`); this package is the only code that knows
them all and puts them in processes:

- `services`: what builds and serves each service in a process
  (`python -m veil.wiring.services trust|gateway ...`), data-dir defaults.
- `processes`: free ports, health waits, and the one `stop_process`.
- `embedded`: `EmbeddedPlatform`, the default platform as child processes over HTTP.
- `direct`: `DirectPlatform`, KMS, verifier and enclaves as objects in one process.
- `bench`: `BenchPlatform` and the sealed envelopes the gateway benchmark sends.

The names below are re-exported on first use, not at import: importing this
package must not import `veil.wiring.services`, or `python -m
veil.wiring.services` would run that module twice (runpy warns).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from veil.wiring.bench import BenchPlatform, EnvelopePool, running_platform
    from veil.wiring.direct import Deployed, DirectPlatform
    from veil.wiring.embedded import EmbeddedPlatform
    from veil.wiring.processes import free_port, start_service, stop_process, wait_healthy
    from veil.wiring.services import (
        DEFAULT_GATEWAY_PORT,
        DEFAULT_TRUST_PORT,
        admin_token,
        build_gateway,
        build_trust,
        default_data_dir,
        serve_trust,
        server_config,
    )

__all__ = [
    "DEFAULT_GATEWAY_PORT",
    "DEFAULT_TRUST_PORT",
    "BenchPlatform",
    "Deployed",
    "DirectPlatform",
    "EmbeddedPlatform",
    "EnvelopePool",
    "admin_token",
    "build_gateway",
    "build_trust",
    "default_data_dir",
    "free_port",
    "running_platform",
    "serve_trust",
    "server_config",
    "start_service",
    "stop_process",
    "wait_healthy",
]


def __getattr__(name: str) -> Any:
    if name in ("BenchPlatform", "EnvelopePool", "running_platform"):
        from veil.wiring import bench as home
    elif name in ("Deployed", "DirectPlatform"):
        from veil.wiring import direct as home
    elif name == "EmbeddedPlatform":
        from veil.wiring import embedded as home
    elif name in ("free_port", "start_service", "stop_process", "wait_healthy"):
        from veil.wiring import processes as home
    elif name in __all__:
        from veil.wiring import services as home
    else:
        raise AttributeError(f"module 'veil.wiring' has no attribute {name!r}")
    return getattr(home, name)

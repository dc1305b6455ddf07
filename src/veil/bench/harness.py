"""The shared harness every benchmark suite uses: timing, percentiles, report.

A suite is a module in `SUITES` with `run(quick: bool) -> list[Metric]`.
Baselines are measured inside the same `run`, never remembered.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

SUITES: dict[str, str] = {
    "core": "veil.bench.core",
    "evidence": "veil.bench.evidence",
    "gateway": "veil.bench.gateway",
    "overload": "veil.bench.overload",
    "runtimes": "veil.bench.runtimes",
}
"""Suite name to the module that runs it."""


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    unit: str
    better: Literal["lower", "higher"]
    target: float | None = None

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        if self.better == "lower":
            return self.value <= self.target
        return self.value >= self.target


class UnknownSuite(ValueError):
    """`veil bench` was asked for a suite that does not exist."""


def timings_us(fn: Callable[[], object], iterations: int, warmup: int = 20) -> list[float]:
    """Wall-clock time of each call, in microseconds, with the GC paused."""
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(iterations):
            start = time.perf_counter_ns()
            fn()
            samples.append((time.perf_counter_ns() - start) / 1000)
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


def percentile(samples: Iterable[float], p: float) -> float:
    """The p-th percentile (0-100), nearest-rank on sorted samples."""
    ordered = sorted(samples)
    if not ordered:
        raise ValueError("no samples")
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(samples: Iterable[float]) -> float:
    return statistics.median(list(samples))


def run_suite(name: str, quick: bool) -> dict[str, object]:
    if name not in SUITES:
        raise UnknownSuite(f"unknown suite {name!r}; known: {', '.join(sorted(SUITES))}")
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    module = importlib.import_module(SUITES[name])
    metrics: list[Metric] = module.run(quick)
    return {
        "suite": name,
        "started": started,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "quick": quick,
        "metrics": [asdict(m) for m in metrics],
    }


def write_json(report: dict[str, object], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2) + "\n")


def metrics_of(report: dict[str, object]) -> list[Metric]:
    raw = report["metrics"]
    assert isinstance(raw, list)
    return [Metric(**m) for m in raw]

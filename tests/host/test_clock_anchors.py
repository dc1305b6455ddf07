"""The host keeps real enclave workers' clocks anchored: after attestation, every
`anchor_every_s`, and once more when an enclave refuses for its clock."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.conftest import echo_bundle
from tests.host.test_dispatcher import dispatching, run
from veil.client.invoke import open_response, seal
from veil.host.dispatcher import Dispatcher
from veil.host.pool import PoolConfig
from veil.host.registry import Entry, Registry
from veil.wiring.direct import DirectPlatform
from veil.wiring.embedded import EmbeddedPlatform


def test_the_pool_re_anchors_every_worker_on_its_schedule_and_stops_doing_so_on_stop(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> tuple[int, bytes, list[str], bool]:
        async with dispatching(trust, tmp_path, anchor_every_s=0.2) as running:  # type: ignore[arg-type]
            await running.invoke("acme/echo", b"warm")
            await asyncio.sleep(1.5)
            anchors = min(w.anchors for w in running.dispatcher.workers.values())
            output = await running.invoke("acme/echo", b"after the refreshes")
            kinds = [e["kind"] for e in running.dispatcher.events.since()]
            loops = running.dispatcher.pool._loops
        return anchors, output, kinds, all(loop.done() for loop in loops)

    anchors, output, kinds, stopped = run(main)
    assert anchors >= 3 and output == b"after the refreshes"
    assert "anchor_failed" not in kinds and "clock_reanchored" not in kinds
    assert stopped


class SteppableClock:
    """The KMS machine's wall clock, which an NTP step can move."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset_s


def test_an_enclave_refusing_for_its_clock_is_re_anchored_and_the_request_retried(
    tmp_path: Path,
) -> None:
    kms_clock = SteppableClock()
    platform = DirectPlatform(tmp_path / "data", kms_clock=kms_clock)
    echo = platform.deploy(echo_bundle())
    registry = Registry(tmp_path / "registry.sqlite3")
    entry = Entry(echo.record.name, echo.record.digest, echo.record_bytes, echo.record.version)
    registry.put(entry, echo.signed_bundle)
    config = PoolConfig(stem_cells=1, max_workers=1, anchor_every_s=3600)

    async def main() -> tuple[bytes, list[dict[str, object]]]:
        dispatcher = Dispatcher(registry, platform.services, tmp_path / "data/sim-host.key", config)
        await dispatcher.start()
        try:
            (worker,) = dispatcher.workers.values()
            first = seal(echo.record, b"warm", enclave=worker.key_id)
            await dispatcher.invoke(
                echo.record.name, worker.key_id, first.envelope, time.monotonic() + 30
            )
            kms_clock.offset_s = -5.0  # the KMS's clock is stepped back 5 s ...
            await dispatcher.pool.anchor(worker)  # ... so the next anchor disagrees: ClockDrift
            request = seal(echo.record, b"served after a re-anchor", enclave=worker.key_id)
            reply = await dispatcher.invoke(
                request.record.name, worker.key_id, request.envelope, time.monotonic() + 30
            )
            return open_response(request, reply, platform.trust).output, dispatcher.events.since()
        finally:
            await dispatcher.stop()
            registry.close()

    output, events = run(main)
    assert output == b"served after a re-anchor"
    reanchored = [e["detail"] for e in events if e["kind"] == "clock_reanchored"]
    assert reanchored == [{"enclave": 1, "error": "ClockDrift"}]

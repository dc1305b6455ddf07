"""Which enclaves the dispatcher offers a function's clients: warm ones, and a spare when full.

Clients seal each request to one offered enclave, so this is where the pool
grows: an enclave the clients are not offered gets none of their requests.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.host.test_dispatcher import SPIN, Running, dispatching, run, spin_input
from veil.wiring.embedded import EmbeddedPlatform


async def offered(running: Running, name: str) -> list[tuple[bytes, bool]]:
    return [
        (bytes.fromhex(e["key_id"]), e["warm"]) for e in await running.dispatcher.recommend(name)
    ]


def test_a_function_warm_nowhere_is_offered_a_stem_cell(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> tuple[list[tuple[bytes, bool]], list[bytes]]:
        async with dispatching(trust, tmp_path) as running:
            return await offered(running, "acme/echo"), running.key_ids()

    choice, stems = run(main)
    assert choice == [(stems[0], False)]


def test_a_warm_enclave_with_room_is_all_that_is_offered(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> tuple[list[tuple[bytes, bool]], list[bytes]]:
        async with dispatching(trust, tmp_path, stem_cells=1, max_workers=2) as running:
            await running.invoke("acme/echo", b"warm")
            (warm,) = [w.key_id for w in running.dispatcher.workers.values() if w.functions]
            return await offered(running, "acme/echo"), [warm]

    choice, warm = run(main)
    assert choice == [(warm[0], True)]


def test_when_every_warm_enclave_is_full_a_spare_is_offered_beside_it(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> tuple[list[tuple[bytes, bool]], bytes]:
        config = {"stem_cells": 1, "max_workers": 2, "enclave_concurrency": 1}
        async with dispatching(trust, tmp_path, **config) as running:
            await running.invoke(SPIN, spin_input(0))
            (warm,) = [w for w in running.dispatcher.workers.values() if SPIN in w.functions]
            busy = asyncio.create_task(running.invoke(SPIN, spin_input(100), enclave=warm.key_id))
            await asyncio.sleep(0.1)
            choice = await offered(running, SPIN)
            busy.cancel()
            return choice, warm.key_id

    choice, warm = run(main)
    assert len(choice) == 2 and choice[0] == (warm, True)
    assert choice[1][0] != warm and choice[1][1] is False


def test_at_the_pool_maximum_with_no_spare_only_the_full_warm_enclave_is_offered(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> list[tuple[bytes, bool]]:
        async with dispatching(trust, tmp_path, enclave_concurrency=1) as running:
            await running.invoke(SPIN, spin_input(0))
            busy = asyncio.create_task(running.invoke(SPIN, spin_input(100)))
            await asyncio.sleep(0.1)
            choice = await offered(running, SPIN)
            busy.cancel()
            return choice

    assert [warm for _, warm in run(main)] == [True]


def test_asks_that_find_no_enclave_share_one_new_worker(
    trust: EmbeddedPlatform, tmp_path: Path
) -> None:
    async def main() -> tuple[set[bytes], int]:
        async with dispatching(trust, tmp_path, stem_cells=0, max_workers=2) as running:
            answers = await asyncio.gather(*(offered(running, "acme/echo") for _ in range(5)))
            return {key for choice in answers for key, _ in choice}, len(running.key_ids())

    keys, workers = run(main)
    assert len(keys) == 1 and workers == 1

"""serve's shutdown of its background tasks (no I/O)."""

from __future__ import annotations

import asyncio

from beproduct_sync.cli.common import finish_tasks


async def test_settle_waits_for_tasks_that_end_and_cancels_those_that_do_not() -> None:
    stop = asyncio.Event()
    released: list[str] = []

    async def polite() -> None:
        await stop.wait()
        await asyncio.sleep(0.01)  # finishing its batch
        released.append("polite")

    async def stuck() -> None:
        await asyncio.sleep(3600)

    tasks = [asyncio.ensure_future(polite()), asyncio.ensure_future(stuck())]
    stop.set()
    await asyncio.wait_for(finish_tasks(tasks, timeout=0.2), 5)
    assert released == ["polite"]
    assert tasks[1].cancelled()


async def test_settle_with_nothing_to_wait_for_returns_at_once() -> None:
    await asyncio.wait_for(finish_tasks([], timeout=60), 1)

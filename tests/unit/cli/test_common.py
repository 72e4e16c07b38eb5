"""serve's shutdown of its background tasks, and the set-up of long-running commands (no I/O)."""

from __future__ import annotations

import asyncio
import gc

from beproduct_sync.cli.common import GC_THRESHOLDS, finish_tasks, long_running


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


def test_long_running_commands_collect_garbage_less_often_and_freeze_start_up() -> None:
    before = gc.get_threshold()
    try:
        long_running()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > before[0]
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)

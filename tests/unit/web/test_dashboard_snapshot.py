"""Shared dashboard figures: computed at most once per interval, whoever asks."""

from __future__ import annotations

import asyncio

from beproduct_sync.web.dashboard.snapshot import Snapshot


async def test_a_snapshot_is_computed_once_per_interval_and_again_when_asked() -> None:
    now = [100.0]
    calls: list[int] = []
    snap: Snapshot[int] = Snapshot(5.0, clock=lambda: now[0])

    async def compute() -> int:
        calls.append(1)
        return len(calls)

    assert await snap.get(compute) == 1
    now[0] += 4.9
    assert await snap.get(compute) == 1
    now[0] += 0.1
    assert await snap.get(compute) == 2
    assert await snap.get(compute, fresh=True) == 3
    assert snap.taken_at is not None


async def test_concurrent_viewers_of_a_stale_snapshot_share_one_computation() -> None:
    snap: Snapshot[str] = Snapshot(5.0)
    started = 0
    release = asyncio.Event()

    async def compute() -> str:
        nonlocal started
        started += 1
        await release.wait()
        return "figures"

    waiting = [asyncio.create_task(snap.get(compute)) for _ in range(5)]
    while started == 0:
        await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == ["figures"] * 5
    assert started == 1

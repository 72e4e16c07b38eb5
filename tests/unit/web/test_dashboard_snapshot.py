"""Shared dashboard figures: computed at most once per interval, whoever asks, and refreshed
in the background once a value exists."""

from __future__ import annotations

import asyncio

from beproduct_sync.web.dashboard.snapshot import Snapshot, Snapshots


async def settled(snap: Snapshot[int]) -> None:
    """Wait until a background refresh (if any) has finished."""
    task = snap._refreshing
    if task is not None:
        await task


async def test_a_stale_value_is_served_at_once_and_refreshed_in_the_background() -> None:
    now = [100.0]
    calls: list[int] = []
    snap: Snapshot[int] = Snapshot(5.0, clock=lambda: now[0])

    async def compute() -> int:
        calls.append(1)
        return len(calls)

    assert await snap.get(compute) == 1  # nothing yet: computed while waiting
    now[0] += 4.9
    assert await snap.get(compute) == 1
    assert len(calls) == 1
    now[0] += 0.1
    assert await snap.get(compute) == 1  # stale: served, refresh started
    await settled(snap)
    assert await snap.get(compute) == 2
    assert await snap.get(compute, fresh=True) == 3  # an action waits for a fresh one
    assert snap.taken_at is not None


async def test_concurrent_first_viewers_share_one_computation() -> None:
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


async def test_a_failed_refresh_keeps_the_last_value() -> None:
    now = [0.0]
    snap: Snapshot[int] = Snapshot(1.0, clock=lambda: now[0])

    async def good() -> int:
        return 7

    async def bad() -> int:
        raise RuntimeError("database down")

    assert await snap.get(good) == 7
    now[0] += 2
    assert await snap.get(bad) == 7
    await settled(snap)
    assert await snap.get(good) == 7  # still stale: another refresh is started
    await settled(snap)
    now[0] += 0.5
    assert await snap.get(bad) == 7  # fresh again after the good refresh: bad never runs


async def test_none_is_a_value_not_a_missing_one() -> None:
    calls = 0

    async def unknown() -> int | None:
        nonlocal calls
        calls += 1
        return None

    snap: Snapshot[int | None] = Snapshot(60.0)
    assert await snap.get(unknown) is None
    assert await snap.get(unknown) is None
    assert calls == 1


def test_keyed_snapshots_keep_the_most_recently_used() -> None:
    snaps: Snapshots[int] = Snapshots(5.0, size=2)
    a = snaps["a"]
    snaps["b"]
    assert snaps["a"] is a  # used again: kept
    snaps["c"]  # "b" is the least recently used: dropped
    assert snaps["a"] is a
    assert len(snaps._items) == 2

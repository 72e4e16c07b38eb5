"""Figures computed once per interval and shared by every viewer.

The dashboard's figures aggregate the whole inbox or a whole plan, and every open dashboard
polls them. A Snapshot computes them at most once per `max_age` seconds, whoever asks, so the
database work is bounded by time, not by the number of viewers. Once a value exists, a request
finding it stale gets it at once and starts one recomputation in the background (stale while
revalidate): nobody waits on an aggregate except the very first viewer, or an action that asks
for a fresh value (Replay). A failed recomputation keeps the last value and is logged; the next
request tries again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Generic, TypeVar

import structlog

from beproduct_sync.db import describe_error

T = TypeVar("T")
log = structlog.get_logger("beproduct_sync.dashboard")


class Snapshot(Generic[T]):
    """The latest value of a computation, refreshed when older than `max_age` seconds."""

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._clock = clock
        self._lock = asyncio.Lock()
        self._value: T | None = None
        self._has = False  # None may be a value (an unknown plan): computed at all?
        self._taken = 0.0
        self._refreshing: asyncio.Task[None] | None = None
        self.taken_at: datetime | None = None  # when the value was computed (wall clock)

    def _stale(self) -> bool:
        return not self._has or self._clock() - self._taken >= self.max_age

    async def _run(self, compute: Callable[[], Awaitable[T]]) -> None:
        self._value = await compute()
        self._has = True
        self._taken = self._clock()
        self.taken_at = datetime.now(UTC)

    async def _refresh(self, compute: Callable[[], Awaitable[T]]) -> None:
        async with self._lock:
            if not self._stale():
                return
            try:
                await self._run(compute)
            except Exception as exc:  # noqa: BLE001 - keep the last value; see the docstring
                log.warning("dashboard_refresh_failed", error=describe_error(exc))

    async def get(self, compute: Callable[[], Awaitable[T]], *, fresh: bool = False) -> T:
        """The shared value: computed now when there is none yet or `fresh` is asked (after
        an action); otherwise the current one, refreshed in the background when stale."""
        if fresh or not self._has:
            async with self._lock:
                if fresh or not self._has:
                    await self._run(compute)
        elif self._stale() and (self._refreshing is None or self._refreshing.done()):
            self._refreshing = asyncio.create_task(self._refresh(compute))
        return self._value  # type: ignore[return-value]  # set by _run (T may be None)


class Snapshots(Generic[T]):
    """One Snapshot per key (a plan, a week), the least recently used dropped beyond `size`."""

    def __init__(self, max_age: float, size: int = 64) -> None:
        self.max_age = max_age
        self.size = size
        self._items: dict[object, Snapshot[T]] = {}

    def __getitem__(self, key: object) -> Snapshot[T]:
        found = self._items.pop(key, None) or Snapshot[T](self.max_age)
        self._items[key] = found  # most recent last
        while len(self._items) > self.size:
            del self._items[next(iter(self._items))]
        return found

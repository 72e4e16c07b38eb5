"""Figures computed once per interval and shared by every viewer.

The Operations figures aggregate the whole inbox; every open dashboard polls them. Computing
them at most once per refresh interval, whoever asks, bounds the database work by time, not by
the number of viewers, and renders every other request from memory. Concurrent requests for
a stale snapshot wait for one computation instead of starting their own. An action (Replay)
asks for a fresh one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Generic, TypeVar

T = TypeVar("T")


class Snapshot(Generic[T]):
    """The latest value of `compute`, recomputed when older than `max_age` seconds."""

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self._clock = clock
        self._lock = asyncio.Lock()
        self._value: T | None = None
        self._taken = 0.0
        self.taken_at: datetime | None = None  # when the value was computed (wall clock)

    def _stale(self) -> bool:
        return self._value is None or self._clock() - self._taken >= self.max_age

    async def get(self, compute: Callable[[], Awaitable[T]], *, fresh: bool = False) -> T:
        """The shared value; `fresh` recomputes it now (after an action)."""
        if fresh or self._stale():
            async with self._lock:
                if fresh or self._stale():
                    self._value = await compute()
                    self._taken = self._clock()
                    self.taken_at = datetime.now(UTC)
        assert self._value is not None
        return self._value

"""Time that jumps: a rate-limit pause of an hour passes at once, for the client and the fake."""

from __future__ import annotations

import asyncio
import time

from beproduct_sync.testing.fake import FakeBeProduct


class SkipAhead:
    """A `sleep` and `clock` pair for BeProductClient: sleeping moves the clock and the fake's
    rate windows forward instead of waiting, and every wait is remembered."""

    def __init__(self, fake: FakeBeProduct) -> None:
        self.fake = fake
        self.offset = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        """The client's wall clock, Unix seconds."""
        return time.time() + self.offset

    async def sleep(self, seconds: float) -> None:
        """Let `seconds` pass at once."""
        self.slept.append(seconds)
        self.offset += seconds
        self.fake.advance_rate_clock(seconds)
        await asyncio.sleep(0)

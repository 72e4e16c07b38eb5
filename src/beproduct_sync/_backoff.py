"""Waiting well: jittered exponential delays, stop-aware pauses and the reconnect loop.

Every long-running loop (workers, the NOTIFY listener, the enricher, scheduled reconciliation)
outlives database and API outages the same way: run until done, and after a failure wait a
growing, jittered delay, unless asked to stop. Like psycopg_pool's `AttemptWithBackoff`, the
state is one small object, so a loop that recovers resets it and the next outage starts short.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from beproduct_sync.db import describe_error, is_outage
from beproduct_sync.logs import Throttle

log = structlog.get_logger("beproduct_sync.backoff")

REPEAT_LOG_SECONDS = 60.0


def retry_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before retry number `attempt` (1-based): exponential with full jitter.

    Uniform in [base, min(cap, base * 2**(attempt-1))], so a burst of failures does not come
    back in lock-step.
    """
    ceiling = min(cap, base * (2 ** max(attempt - 1, 0)))
    return (rng or random).uniform(min(base, ceiling), ceiling)


async def pause(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`, or less if `stop` is set meanwhile; True when it was set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


@dataclass
class Backoff:
    """Consecutive failures of one loop and the delay the next retry waits."""

    base: float = 0.25
    cap: float = 30.0
    failures: int = 0

    def reset(self) -> None:
        """A success: the next failure waits the shortest delay again."""
        self.failures = 0

    def next_delay(self) -> float:
        """Count a failure and return how long to wait before retrying."""
        self.failures += 1
        return retry_delay(self.failures, self.base, self.cap)


async def keep_running(
    name: str,
    stop: asyncio.Event,
    body: Callable[[Backoff], Awaitable[None]],
    **fields: Any,
) -> None:
    """Run `body` until it returns or `stop` is set, retrying with backoff after any error.

    `body` gets the Backoff so it can `reset()` it once it is working again (e.g. after a
    successful claim). Outages (database, network, BeProduct, a missing privilege) are logged
    as warnings; anything else is a bug and is logged with its traceback, but the loop still
    survives it. The same error is logged at most once per REPEAT_LOG_SECONDS (with how often
    it repeated meanwhile).
    """
    backoff = Backoff()
    repeats = Throttle(REPEAT_LOG_SECONDS)
    while not stop.is_set():
        try:
            await body(backoff)
            return
        except Exception as exc:
            delay = backoff.next_delay()
            error = describe_error(exc)
            held = repeats(error)
            if held is not None:
                more = {"repeated": held, **fields} if held else fields
                if is_outage(exc):
                    log.warning(name, error=error, retry_in_s=round(delay, 2), **more)
                else:
                    log.error(name, error=error, retry_in_s=round(delay, 2), exc_info=exc, **more)
            await pause(stop, delay)

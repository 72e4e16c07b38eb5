"""The shared backoff: jittered delays, the reconnect counter, stop-aware pauses."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from beproduct_sync._backoff import Backoff, keep_running, pause, retry_delay


def test_backoff_starts_small_grows_and_never_exceeds_its_cap() -> None:
    first = Backoff()
    assert first.next_delay() == pytest.approx(0.25)
    grown = Backoff(failures=3)
    assert all(0.25 <= Backoff(failures=3).next_delay() <= 2.0 for _ in range(50))
    assert grown.failures == 3
    assert max(Backoff(failures=40).next_delay() for _ in range(200)) <= 30.0
    assert max(Backoff(failures=40).next_delay() for _ in range(200)) > 2.0


def test_a_reset_backoff_waits_the_shortest_delay_again() -> None:
    backoff = Backoff(failures=10)
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(0.25)


def test_retry_delays_use_full_jitter_between_base_and_the_doubled_ceiling() -> None:
    rng = random.Random(7)
    delays = [retry_delay(4, 2.0, 3600.0, rng) for _ in range(500)]
    assert min(delays) >= 2.0
    assert max(delays) <= 16.0
    assert max(delays) - min(delays) > 8.0  # spread out, not lock-step


async def test_pause_returns_early_and_true_when_stop_is_set() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stop.set)
    started = time.monotonic()
    assert await pause(stop, 30) is True
    assert time.monotonic() - started < 5


async def test_pause_returns_false_when_the_time_is_up() -> None:
    assert await pause(asyncio.Event(), 0.01) is False


async def test_keep_running_retries_a_failing_body_until_it_succeeds() -> None:
    calls: list[int] = []

    async def body(backoff: Backoff) -> None:
        calls.append(backoff.failures)
        if len(calls) < 3:
            raise OSError("connection refused")

    await asyncio.wait_for(keep_running("test_error", asyncio.Event(), body), 10)
    assert calls == [0, 1, 2]


async def test_keep_running_gives_up_once_stop_is_set() -> None:
    stop = asyncio.Event()

    async def body(backoff: Backoff) -> None:
        stop.set()
        raise OSError("down")

    await asyncio.wait_for(keep_running("test_error", stop, body), 5)
    assert stop.is_set()

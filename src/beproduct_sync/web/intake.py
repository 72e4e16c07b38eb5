"""Group commit for the receiver: webhooks arriving together share one INSERT and one commit.

A commit waits for the WAL to reach the disk; one per webhook makes that wait the receiver's
ceiling. Here a request hands its body to the intake and awaits its own result; a flusher takes
what has queued (after a small bounded linger, `linger_seconds`, when fewer than `max_batch`
are waiting) and records them all in one transaction (inbox.log.record_many) with one NOTIFY.
Each request is answered only after that commit, so "durable before the 2xx" holds as before.
At most `flushers` batches are in flight at once, so one batch's commit overlaps the next
batch's statement.

Connections come from `run` (web.connections: a pooled connection, or once more a fresh one
when that fails; recording is idempotent, duplicates are recognised by digest). When no
connection is to be had the whole batch fails at once; a batch that fails otherwise is recorded
again one request per transaction, so a body the database refuses fails alone.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg_pool import PoolClosed, PoolTimeout, TooManyRequests

from beproduct_sync.errors import DatabaseUnavailable
from beproduct_sync.inbox.log import Incoming, Received, record_many

Operation = Callable[[psycopg.AsyncConnection[Any]], Awaitable[list[Received]]]
Runner = Callable[[Operation], Awaitable[list[Received]]]
# No connection to be had: retrying each request alone would only multiply the wait.
_NO_CONNECTION = (
    DatabaseUnavailable,
    psycopg.OperationalError,
    PoolTimeout,
    PoolClosed,
    TooManyRequests,
)


class Intake:
    """Records webhook bodies in batches; `store` returns once its body is committed."""

    def __init__(
        self,
        run: Runner,
        *,
        linger_seconds: float = 0.001,
        max_batch: int = 64,
        flushers: int = 2,
    ) -> None:
        self.run = run
        self.linger_seconds = linger_seconds
        self.max_batch = max(1, max_batch)
        self.flushers = max(1, flushers)
        self._queue: deque[tuple[Incoming, asyncio.Future[Received]]] = deque()
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0  # committed batches, for tests and metrics

    async def store(self, item: Incoming) -> Received:
        """Record `item` (with whatever else is waiting) and return its inbox row, committed."""
        done: asyncio.Future[Received] = asyncio.get_running_loop().create_future()
        self._queue.append((item, done))
        if self._running < self.flushers:
            self._running += 1
            task = asyncio.create_task(self._flush_while_queued())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # Shielded: a client that hangs up must not cancel a commit other requests share.
        return await asyncio.shield(done)

    async def _flush_while_queued(self) -> None:
        try:
            while self._queue:
                if self.linger_seconds and len(self._queue) < self.max_batch:
                    await asyncio.sleep(self.linger_seconds)
                batch = [
                    self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))
                ]
                if batch:
                    await self._flush(batch)
        finally:
            self._running -= 1

    async def _flush(self, batch: list[tuple[Incoming, asyncio.Future[Received]]]) -> None:
        try:
            results = await self._commit([item for item, _ in batch])
        except _NO_CONNECTION as exc:
            for _, done in batch:
                _settle(done, exc=exc)
            return
        except Exception as exc:  # noqa: BLE001 - isolated below, or handed to its request
            if len(batch) == 1:
                _settle(batch[0][1], exc=exc)
                return
            for one in batch:  # one bad body must not fail the others
                await self._flush([one])
            return
        self.batches += 1
        for (_, done), received in zip(batch, results, strict=True):
            _settle(done, received)

    async def _commit(self, items: list[Incoming]) -> list[Received]:
        async def op(conn: psycopg.AsyncConnection[Any]) -> list[Received]:
            async with conn.transaction():
                # The 2xx promises the body is stored: durable whatever the server's default
                # (an operator may have set synchronous_commit = off for the whole database).
                await conn.execute("SET LOCAL synchronous_commit = on")
                return await record_many(conn, items, notify=True)

        return await self.run(op)

    async def close(self) -> None:
        """Wait for the batches in flight (at shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _settle(
    done: asyncio.Future[Received],
    received: Received | None = None,
    exc: BaseException | None = None,
) -> None:
    if done.done():
        return
    if exc is not None:
        done.set_exception(exc)
    else:
        assert received is not None
        done.set_result(received)

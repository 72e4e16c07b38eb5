"""The receiver's database connections: its pool, and a fresh connection when the pool cannot
give a working one (after a database restart or failover, or while its reconnects back off).

Why not psycopg_pool's `check=` alone: its check loop sleeps with backoff (1 s, 2 s, …) between
dead connections, so after a restart the first request met one dead connection per idle slot
and ran out of time: 503s for as long as dead connections were left. Here a request that meets a
dead connection (OperationalError) or no connection in time (PoolTimeout) is tried once more on
a new connection of its own, bounded by the same timeout, and the pool is told to check (and
replace) its idle connections in the background. Until the pool holds a ready connection again,
requests go straight to fresh connections, so a pool still waiting out its reconnect backoff
after the database is back costs no 503 and no wait. During an outage the fresh connection is
refused at once: the answer is a fast 503 (see responses.on_database).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
import structlog
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from beproduct_sync import db
from beproduct_sync.errors import DatabaseUnavailable

log = structlog.get_logger("beproduct_sync.web")

T = TypeVar("T")
Pool = AsyncConnectionPool[Any]
Operation = Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]

CHECK_EVERY_SECONDS = 1.0  # at most one background pool check per second


class Connections:
    """Run an operation on a pooled connection, or once more on a fresh one (module doc)."""

    def __init__(self, pool: Pool, url: str, timeout: float) -> None:
        self.pool, self._url, self.timeout = pool, url, timeout
        self.suspect = False  # the pool failed last time and holds no ready connection since
        self._checked_at = 0.0
        self._checking: asyncio.Task[None] | None = None

    async def run(self, op: Operation[T]) -> T:
        """`op` on a working connection; DatabaseUnavailable when none is to be had in time.
        `op` must be safe to run twice (the first run's transaction may have been lost)."""
        if not self.suspect or self.pool.get_stats().get("pool_available", 0) > 0:
            try:
                async with self.pool.connection(timeout=self.timeout) as conn:
                    result = await op(conn)
            except (PoolTimeout, psycopg.OperationalError) as exc:
                log.info("pool_connection_failed", error=type(exc).__name__)
                self.suspect = True
            else:
                self.suspect = False
                return result
        self._check_soon()
        return await self._fresh(op)

    async def _fresh(self, op: Operation[T]) -> T:
        try:
            conn = await asyncio.wait_for(
                db.aconnect(self._url, autocommit=True, application_name="beproduct-sync web"),
                self.timeout,
            )
        except TimeoutError:
            raise DatabaseUnavailable() from None
        async with conn:
            return await op(conn)

    def _check_soon(self) -> None:
        """Have the pool check its idle connections (dropping dead ones and starting their
        replacements) in the background, at most once per CHECK_EVERY_SECONDS."""
        now = time.monotonic()
        if (self._checking is not None and not self._checking.done()) or (
            now - self._checked_at < CHECK_EVERY_SECONDS
        ):
            return
        self._checked_at = now
        self._checking = asyncio.create_task(self._check())

    async def _check(self) -> None:
        try:
            await self.pool.check()
        except Exception as exc:  # noqa: BLE001 - a background chore: never an unhandled task error
            log.info("pool_check_failed", error=type(exc).__name__)

"""The BeProduct API's health as one of our clients sees it, kept in `ops.api_health`.

Each client counts its calls and pauses and keeps the latest rate-limit headers and error;
the component that owns it (enricher, backfill, reconcile) stores that snapshot as it goes, so
the dashboard can tell how much of the current window is left and what failed last, whichever
process made the calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from beproduct_sync.api.ratelimit import reset_seconds
from beproduct_sync.db import describe_error
from beproduct_sync.sql import query

log = structlog.get_logger("beproduct_sync.api")

Pool = AsyncConnectionPool[Any]


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class ApiHealth:
    """What one client has seen of the API: rate-limit headroom, calls, pauses, last error."""

    rate_limit: int | None = None
    rate_remaining: int | None = None
    rate_reset_at: datetime | None = None
    calls: int = 0
    pauses: int = 0
    last_ok_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None

    def answered(self, status: int, headers: Mapping[str, str], now: float) -> None:
        """Take in one answer: its status and `X-RateLimit-*` headers."""
        self.calls += 1
        remaining = _int(headers.get("x-ratelimit-remaining"))
        if remaining is not None:
            self.rate_remaining = remaining
            self.rate_limit = _int(headers.get("x-ratelimit-limit")) or self.rate_limit
            reset = reset_seconds(headers.get("x-ratelimit-reset"), now)
            if reset is not None:
                self.rate_reset_at = datetime.fromtimestamp(now + reset, UTC)
        if status < 400:
            self.last_ok_at = datetime.fromtimestamp(now, UTC)

    def failed(self, message: str) -> None:
        """A request failed for good (after its retries); `message` is the client's own."""
        self.last_error = message
        self.last_error_at = datetime.now(UTC)


def health_of(api: Any) -> ApiHealth | None:
    """The health a client keeps, if it keeps one (test doubles of the API do not)."""
    found = getattr(api, "health", None)
    return found if isinstance(found, ApiHealth) else None


async def save(conn: AsyncConnection[Any], component: str, health: ApiHealth | None) -> None:
    """Store `component`'s latest snapshot (autocommit or the caller's transaction)."""
    if health is None or (health.calls == 0 and health.last_error is None):
        return
    params = {"component": component, **vars(health)}
    await conn.execute(query("api_health_save"), params)


async def save_quietly(db_source: AsyncConnection[Any] | Pool, component: str, api: Any) -> None:
    """`save` on a connection or one from a pool, logging instead of raising: a lost health
    snapshot must fail no work (and must not hide the error that ended it)."""
    try:
        if isinstance(db_source, AsyncConnectionPool):
            async with db_source.connection() as conn:
                await save(conn, component, health_of(api))
        else:
            await save(db_source, component, health_of(api))
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning("api_health_not_saved", component=component, error=describe_error(exc))

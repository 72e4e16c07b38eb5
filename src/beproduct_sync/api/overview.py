"""What the dashboard's Operations page shows, read in one go: the inbox by status, the queue,
receive → applied lag, arrivals per minute, dead letters, import errors, the enrichment queue,
the BeProduct API's health, reconcile passes, backfill runs and reverse sync's change
requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from beproduct_sync.inbox.report import change_counts, job_counts
from beproduct_sync.inbox.status import QUEUED, InboxStatus
from beproduct_sync.sql import query

Row = dict[str, Any]


@dataclass(frozen=True)
class Lag:
    """Receive → applied lag of the last hour's applied events, in seconds (None: no event)."""

    applied: int
    p50: float | None
    p95: float | None


@dataclass(frozen=True)
class Operations:
    """The state of the sync at one moment (the Operations page's panels)."""

    events: dict[str, int]
    queue_depth: int
    lag: Lag
    dead_letters: list[Row]
    import_errors: list[Row]
    enrichment_jobs: dict[str, int]
    enrichment: Row
    api_health: list[Row]
    reconciles: list[Row]
    backfills: list[Row]
    change_requests: dict[str, int]  # reverse sync: every state → count
    change_problems: list[Row]  # conflict, rejected and dead requests, newest first


async def _rows(conn: AsyncConnection[Any], name: str, **params: Any) -> list[Row]:
    cur = conn.cursor(row_factory=dict_row)
    return await (await cur.execute(query(name), params)).fetchall()


async def operations(conn: AsyncConnection[Any], *, limit: int = 20) -> Operations:
    """Every panel of the Operations page except the per-minute chart (see `per_minute`)."""
    found = {r["status"]: r["count"] for r in await _rows(conn, "log_status_counts")}
    events = {s.value: int(found.get(s.value, 0)) for s in InboxStatus}
    lag = (await _rows(conn, "overview_lag"))[0]
    return Operations(
        events=events,
        queue_depth=sum(events[s.value] for s in QUEUED),
        lag=Lag(int(lag["applied"]), lag["p50"], lag["p95"]),
        dead_letters=await _rows(conn, "overview_dead", limit=limit),
        import_errors=await _rows(conn, "import_errors_recent", limit=limit),
        enrichment_jobs=await job_counts(conn),
        enrichment=(await _rows(conn, "overview_enrichment"))[0],
        api_health=await _rows(conn, "overview_api_health"),
        reconciles=await _rows(conn, "overview_reconcile", limit=5),
        backfills=await _rows(conn, "overview_backfill", limit=5),
        change_requests=await change_counts(conn),
        change_problems=await _rows(conn, "overview_changes", limit=limit),
    )


async def per_minute(conn: AsyncConnection[Any]) -> list[tuple[datetime, int]]:
    """Events received in each of the last 1,440 minutes, oldest first (zeros included)."""
    return [(r["minute"], int(r["events"])) for r in await _rows(conn, "overview_per_minute")]

"""What `beproduct-sync status` reports: events per inbox status, queue depth, recent errors,
and the enrichment jobs (BeProduct API fetches) still outstanding."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from beproduct_sync import db
from beproduct_sync.inbox.status import QUEUED, InboxStatus, JobStatus
from beproduct_sync.sql import query

# Reverse sync's change request states (ops.timeline_change_request.state).
CHANGE_REQUEST_STATES = ("pending", "sending", "sent", "confirmed", "conflict", "rejected", "dead")


async def job_counts(conn: AsyncConnection[Any]) -> dict[str, int]:
    """Outstanding enrichment jobs by status (every status present, zero when none)."""
    cur = conn.cursor(row_factory=dict_row)
    found = {
        r["status"]: r["count"]
        for r in await (await cur.execute(query("enrich_queue_stats"))).fetchall()
    }
    return {s.value: int(found.get(s.value, 0)) for s in JobStatus}


async def change_counts(conn: AsyncConnection[Any]) -> dict[str, int]:
    """Reverse sync's change requests by state (every state present, zero when none)."""
    cur = conn.cursor(row_factory=dict_row)
    found = {
        r["state"]: r["count"]
        for r in await (await cur.execute(query("outbox_state_counts"))).fetchall()
    }
    return {s: int(found.get(s, 0)) for s in CHANGE_REQUEST_STATES}


async def gather(url: str, error_limit: int = 10) -> dict[str, Any]:
    """The status report, in the one shape `status --json` prints (README, "Status"):
    `events` (every inbox status → count), `queue_depth`, `enrichment_jobs` (every job status
    → count), `change_requests` (reverse sync: every state → count) and `recent_errors`
    (newest first)."""
    async with await db.aconnect(url, autocommit=True) as conn:
        cur = conn.cursor(row_factory=dict_row)
        rows = await (await cur.execute(query("log_status_counts"))).fetchall()
        found = {r["status"]: r["count"] for r in rows}
        events = {s.value: int(found.get(s.value, 0)) for s in InboxStatus}
        await cur.execute(query("import_errors_recent"), {"limit": error_limit})
        errors = await cur.fetchall()
        jobs = await job_counts(conn)
        changes = await change_counts(conn)
    return {
        "events": events,
        "queue_depth": sum(events[s.value] for s in QUEUED),
        "enrichment_jobs": jobs,
        "change_requests": changes,
        "recent_errors": errors,
    }

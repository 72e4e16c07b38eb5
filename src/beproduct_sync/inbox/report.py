"""What `beproduct-sync status` reports: counts per inbox status, queue depth, recent errors,
and the enrichment jobs (BeProduct API fetches) still outstanding."""

from __future__ import annotations

from typing import Any

from beproduct_sync import db
from beproduct_sync.api.jobs import queue_counts
from beproduct_sync.apply.writer import query
from beproduct_sync.inbox.log import STATUSES

QUEUE_STATUSES = ("pending", "processing", "failed")


async def gather(url: str, error_limit: int = 10) -> dict[str, Any]:
    """The status report as a JSON-ready dict (keys of `counts` are the status names)."""
    async with await db.aconnect(url, autocommit=True) as conn:
        cur = await conn.execute(query("log_status_counts"))
        found = dict(await cur.fetchall())
        counts = {name: int(found.get(name, 0)) for name in STATUSES}
        cur = await conn.execute(query("import_errors_recent"), {"limit": error_limit})
        cols = [c.name for c in cur.description or []]
        errors = [dict(zip(cols, row, strict=True)) for row in await cur.fetchall()]
        jobs = await queue_counts(conn)
    return {
        **counts,
        "counts": counts,
        "queue_depth": sum(counts[s] for s in QUEUE_STATUSES),
        "recent_errors": errors,
        "enrichment": jobs,
        "extra": {"enrichment jobs": ", ".join(f"{k} {v}" for k, v in jobs.items())},
    }

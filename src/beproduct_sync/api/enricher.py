"""Enrichment: plan, folder and milestone names from the BeProduct API, the database as cache.

Webhooks carry ids; names and dates come from the API. Applying an event never calls the API:
`schedule` runs inside the event's apply transaction and only records, in `ops.enrichment_job`,
the fetches still outstanding. The enricher (`run_enricher`, started by `serve` and `worker`
through `enricher_task`) works that queue off (see enrich_jobs.py): an API outage delays names,
never events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any
from uuid import UUID

import structlog
from psycopg import AsyncConnection

from beproduct_sync import db
from beproduct_sync.api.jobs import JOB_STATUSES, EnrichConfig, Source, queue_counts, run_batch
from beproduct_sync.apply.policy import describe_error
from beproduct_sync.apply.writer import query
from beproduct_sync.inbox import log as inbox
from beproduct_sync.metrics import CACHE_LOOKUPS
from beproduct_sync.model.from_webhook import RowSet

if TYPE_CHECKING:
    from beproduct_sync.bootstrap import Runtime

__all__ = [
    "ALL_FOLDERS",
    "JOB_STATUSES",
    "EnrichConfig",
    "Source",
    "enricher_task",
    "queue_counts",
    "run_enricher",
    "schedule",
]

log = structlog.get_logger("beproduct_sync.enrich")

ALL_FOLDERS = UUID(int=0)  # entity_id of the 'folders' job: one call refreshes every folder
_RUNNING: set[asyncio.Task[None]] = set()  # strong references: the loop keeps only weak ones


async def schedule(conn: AsyncConnection[Any], rows: RowSet, ttl_seconds: float) -> None:
    """Queue the API fetches an applied event needs (one statement; inside its transaction)."""
    folder_id = rows.plan.get("folder_id")
    cur = await conn.execute(
        query("enrich_schedule"),
        {
            "plan_id": rows.plan["id"],
            "folder_id": folder_id,
            "ttl_seconds": float(ttl_seconds),
            "template_ids": [t["id"] for t in rows.templates],
        },
    )
    found = await cur.fetchone()
    plan_jobs, folder_jobs = (int(found[0]), int(found[1])) if found else (0, 0)
    # hit: served from the database (or by a fetch already queued); miss: a fetch was queued.
    CACHE_LOOKUPS.labels("miss" if plan_jobs else "hit").inc()
    if folder_id is not None:
        CACHE_LOOKUPS.labels("miss" if folder_jobs else "hit").inc()


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def run_enricher(runtime: Runtime, client: Source, stop: asyncio.Event) -> None:
    """Run due enrichment jobs until `stop` is set; reconnects after database errors."""
    config = EnrichConfig.from_settings(runtime.settings)
    failures = 0
    log.info("enricher_started", batch_size=config.batch_size, poll_s=config.poll_seconds)
    while not stop.is_set():
        try:
            async with await db.aconnect(
                runtime.url, autocommit=True, application_name="beproduct-sync enricher"
            ) as conn:
                while not stop.is_set():
                    ran = await run_batch(conn, client, config)
                    failures = 0
                    if ran < config.batch_size:  # a full batch means more is due: no pause
                        await _pause(stop, config.poll_seconds)
        except Exception as exc:  # noqa: BLE001 - the enricher outlives database outages
            failures += 1
            delay = inbox.retry_delay(failures, 0.25, 30.0)
            log.warning("enricher_db_error", error=describe_error(exc), retry_in_s=round(delay, 2))
            await _pause(stop, delay)
    log.info("enricher_stopped")


async def _run_with_api(runtime: Runtime, stop: asyncio.Event) -> None:
    from beproduct_sync.api.tokens import open_client

    failures = 0
    while not stop.is_set():
        try:
            # Reads the shared refresh token: the database must be up before the first call.
            client = await open_client(runtime)
        except Exception as exc:  # noqa: BLE001 - the enricher outlives database outages
            failures += 1
            delay = inbox.retry_delay(failures, 0.25, 30.0)
            log.warning("enricher_db_error", error=describe_error(exc), retry_in_s=round(delay, 2))
            await _pause(stop, delay)
            continue
        try:
            async with client:
                await run_enricher(runtime, client, stop)
        except Exception as exc:  # a task nobody awaits must still say why it ended
            log.error("enricher_crashed", error=describe_error(exc), exc_info=exc)
        return


def enricher_task(runtime: Runtime, stop: asyncio.Event) -> Awaitable[None] | None:
    """Start the enricher in the running loop when the BeProduct API is configured.

    Returns the task (awaiting it is optional: it ends by itself once `stop` is set), or None
    when the API is not configured; jobs then wait in the table for a process that has it.
    """
    if not runtime.settings.api_configured:
        log.info("enricher_off", reason="BeProduct API not configured (BEPRODUCT_* settings)")
        return None
    task = asyncio.create_task(_run_with_api(runtime, stop), name="beproduct-sync enricher")
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return task

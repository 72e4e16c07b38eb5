"""The enrichment job queue (`ops.enrichment_job`): claim, re-check, fetch, store, back off.

A job row exists only while its work is outstanding. A batch is claimed under a lease (SKIP
LOCKED, so several enrichers share the queue), jobs whose data turned fresh meanwhile are dropped
without an API call, the rest are fetched concurrently and each result is stored, with its job
deleted, in its own transaction. A failure waits with exponential backoff and jitter; jobs never
expire, so an outage only delays names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Protocol
from uuid import UUID

import structlog
from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb

from beproduct_sync._backoff import retry_delay
from beproduct_sync.api.catalog import store_folders, store_plan, store_plan_missing
from beproduct_sync.config import Settings
from beproduct_sync.db import describe_error
from beproduct_sync.errors import BeProductNotFound, BeProductThrottled
from beproduct_sync.inbox.report import job_counts
from beproduct_sync.metrics import CACHE_LOOKUPS, ENRICHMENT_OUTCOMES, ENRICHMENT_QUEUE
from beproduct_sync.model.rows import RowSet
from beproduct_sync.sql import query

log = structlog.get_logger("beproduct_sync.enrich")

ALL_FOLDERS = UUID(int=0)  # entity_id of the "folders" job: one call refreshes every folder


async def schedule(conn: AsyncConnection[Any], plans: Sequence[RowSet], ttl_seconds: float) -> None:
    """Queue the API fetches applied events need: `plans` holds one row set per plan (see
    apply.service.per_plan). One statement, inside the apply transaction; it never waits on an
    existing job and never calls the API."""
    if not plans:
        return
    params = {
        "rows": Jsonb(
            [
                {
                    "plan_id": rows.plan["id"],
                    "folder_id": rows.plan["folder_id"],
                    "template_ids": [t["id"] for t in rows.templates],
                }
                for rows in plans
            ]
        ),
        "ttl_seconds": float(ttl_seconds),
    }
    cur = conn.cursor(row_factory=dict_row)
    added = await (await cur.execute(query("enrich_schedule"), params)).fetchall()
    queued = {r["entity_id"] for r in added if r["kind"] == "plan"}
    # hit: served from the database (or by a fetch already queued); miss: a fetch was queued.
    for rows in plans:
        CACHE_LOOKUPS.labels("miss" if rows.plan["id"] in queued else "hit").inc()
    folders = [rows for rows in plans if rows.plan["folder_id"] is not None]
    if folders:
        # One folder-list job serves every folder: the first lookup that queued it misses.
        missed = any(r["kind"] == "folders" for r in added)
        CACHE_LOOKUPS.labels("miss" if missed else "hit").inc()
        if len(folders) > 1:
            CACHE_LOOKUPS.labels("hit").inc(len(folders) - 1)


class Source(Protocol):
    """The part of the BeProduct API client enrichment uses (api.client provides it)."""

    async def plan(self, plan_id: str) -> Any:
        """`POST Tracking/Plan/{id}`: the plan with its milestone definitions."""

    async def folders(self) -> Any:
        """`GET Tracking/Folders`: every tracking folder."""


@dataclass(frozen=True)
class EnrichConfig:
    """The settings the enricher reads."""

    zone: tzinfo
    batch_size: int = 20
    lease_seconds: float = 300.0
    poll_seconds: float = 1.0
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 300.0
    ttl_seconds: float = 86400.0

    @classmethod
    def from_settings(cls, settings: Settings) -> EnrichConfig:
        """The enrichment part of the settings."""
        return cls(
            zone=settings.date_zone,
            batch_size=settings.beproduct_sync_enrich_batch_size,
            lease_seconds=settings.beproduct_sync_enrich_lease_seconds,
            poll_seconds=settings.beproduct_sync_enrich_poll_seconds,
            retry_base_seconds=settings.beproduct_sync_enrich_retry_base_seconds,
            retry_max_seconds=settings.beproduct_sync_enrich_retry_max_seconds,
            ttl_seconds=settings.beproduct_sync_enrich_ttl_seconds,
        )


@dataclass(frozen=True)
class Job:
    """One claimed fetch."""

    kind: str  # 'plan' | 'folders'
    entity_id: str
    attempts: int
    claimed_at: datetime

    @property
    def key(self) -> dict[str, Any]:
        """The job's primary key as query parameters."""
        return {"kind": self.kind, "entity_id": self.entity_id}


async def claim(conn: AsyncConnection[Any], limit: int, lease_seconds: float) -> list[Job]:
    """Claim up to `limit` due jobs under a lease."""
    cur = conn.cursor(row_factory=class_row(Job))
    params = {"limit": limit, "lease_seconds": lease_seconds}
    return await (await cur.execute(query("enrich_claim"), params)).fetchall()


async def still_needed(
    conn: AsyncConnection[Any], jobs: list[Job], ttl_seconds: float
) -> list[Job]:
    """The claimed jobs whose data is still missing or stale; the others are deleted."""
    if not jobs:
        return []
    cur = conn.cursor(row_factory=dict_row)
    params = {
        "kinds": [j.kind for j in jobs],
        "ids": [j.entity_id for j in jobs],
        "ttl_seconds": float(ttl_seconds),
    }
    rows = await (await cur.execute(query("enrich_still_needed"), params)).fetchall()
    needed = {(r["kind"], str(r["entity_id"])) for r in rows if r["needed"]}
    keep = [j for j in jobs if (j.kind, j.entity_id) in needed]
    for job in jobs:
        if job not in keep:
            await conn.execute(query("enrich_done"), job.key)
            ENRICHMENT_OUTCOMES.labels(job.kind, "fresh").inc()
    return keep


async def fetch(client: Source, job: Job) -> Any:
    """The API response a job needs."""
    if job.kind == "plan":
        return await client.plan(job.entity_id)
    return await client.folders()


async def save(conn: AsyncConnection[Any], job: Job, payload: Any, zone: tzinfo) -> None:
    """Write a fetched response and delete its job, in one transaction."""
    async with conn.transaction():
        if job.kind == "plan":
            await store_plan(conn, payload, job.entity_id, zone, job.claimed_at)
        else:
            await store_folders(conn, payload, job.claimed_at)
        await conn.execute(query("enrich_done"), job.key)


async def save_missing(conn: AsyncConnection[Any], job: Job) -> None:
    """The API does not know the plan: note the lookup and drop the job."""
    async with conn.transaction():
        await store_plan_missing(conn, job.entity_id, job.claimed_at)
        await conn.execute(query("enrich_done"), job.key)


async def fail(conn: AsyncConnection[Any], job: Job, error: str, delay_seconds: float) -> None:
    """Record a failed attempt; the job is tried again after `delay_seconds`."""
    async with conn.transaction():
        await conn.execute(
            query("enrich_fail"), {**job.key, "error": error[:1000], "delay_seconds": delay_seconds}
        )


def retry_after(exc: BaseException) -> float:
    """Seconds until BeProduct's rate limit resets, when the failure was one (else 0)."""
    return exc.retry_after if isinstance(exc, BeProductThrottled) else 0.0


async def conclude(conn: AsyncConnection[Any], job: Job, result: Any, config: EnrichConfig) -> str:
    """Save a fetch's result or record its failure; returns the outcome label."""
    if isinstance(result, BaseException) and not isinstance(result, Exception):
        raise result  # cancellation: stop now, the lease hands the job back
    # 404: the plan was deleted, or is not visible to us.
    if isinstance(result, BeProductNotFound) and job.kind == "plan":
        await save_missing(conn, job)
        return "missing"
    error: Exception | None = result if isinstance(result, Exception) else None
    if error is None:
        try:
            await save(conn, job, result, config.zone)
            return "done"
        except Exception as exc:  # noqa: BLE001 - a response we cannot store is a failed attempt
            error = exc
    backoff = retry_delay(job.attempts + 1, config.retry_base_seconds, config.retry_max_seconds)
    delay = max(backoff, retry_after(error))
    message = describe_error(error)
    await fail(conn, job, message, delay)
    log.warning(
        "enrichment_failed",
        kind=job.kind,
        entity_id=job.entity_id,
        attempt=job.attempts + 1,
        retry_in_s=round(delay, 2),
        error=message,
    )
    return "failed"


async def run_batch(conn: AsyncConnection[Any], client: Source, config: EnrichConfig) -> int:
    """Claim due jobs, fetch them concurrently, store each result; returns how many ran."""
    claimed = await claim(conn, config.batch_size, config.lease_seconds)
    jobs = await still_needed(conn, claimed, config.ttl_seconds)
    if jobs:
        results = await asyncio.gather(*(fetch(client, j) for j in jobs), return_exceptions=True)
        for job, result in zip(jobs, results, strict=True):
            outcome = await conclude(conn, job, result, config)
            ENRICHMENT_OUTCOMES.labels(job.kind, outcome).inc()
    ENRICHMENT_QUEUE.set(sum((await job_counts(conn)).values()))
    return len(claimed)

"""The enrichment job queue (`ops.enrichment_job`): claim, re-check, fetch, store, back off.

A job row exists only while its work is outstanding. A batch is claimed under a lease (SKIP
LOCKED, so several enrichers share the queue), jobs whose data turned fresh meanwhile are dropped
without an API call, the rest are fetched concurrently and each result is stored, with its job
deleted, in its own transaction. A failure waits with exponential backoff and jitter; jobs never
expire, so an outage only delays names.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Protocol

import structlog
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from beproduct_sync.apply.policy import describe_error
from beproduct_sync.apply.writer import query
from beproduct_sync.config import Settings
from beproduct_sync.inbox import log as inbox
from beproduct_sync.metrics import ENRICHMENT_OUTCOMES, ENRICHMENT_QUEUE
from beproduct_sync.model.from_rest_catalog import folder_rows, plan_rows

log = structlog.get_logger("beproduct_sync.enrich")

JOB_STATUSES = ("pending", "running", "failed")


class Source(Protocol):
    """The part of the BeProduct API client enrichment uses (beproduct.py provides it)."""

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

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Job:
        """From an enrich_claim row: kind, entity_id, attempts, claimed_at."""
        kind, entity_id, attempts, claimed_at = row
        return cls(str(kind), str(entity_id), int(attempts), claimed_at)

    @property
    def key(self) -> dict[str, Any]:
        """The job's primary key as query parameters."""
        return {"kind": self.kind, "entity_id": self.entity_id}


async def claim(conn: AsyncConnection[Any], limit: int, lease_seconds: float) -> list[Job]:
    """Claim up to `limit` due jobs under a lease."""
    cur = await conn.execute(
        query("enrich_claim"), {"limit": limit, "lease_seconds": lease_seconds}
    )
    return [Job.from_row(r) for r in await cur.fetchall()]


async def still_needed(
    conn: AsyncConnection[Any], jobs: list[Job], ttl_seconds: float
) -> list[Job]:
    """The claimed jobs whose data is still missing or stale; the others are deleted."""
    if not jobs:
        return []
    cur = await conn.execute(
        query("enrich_still_needed"),
        {
            "kinds": [j.kind for j in jobs],
            "ids": [j.entity_id for j in jobs],
            "ttl_seconds": float(ttl_seconds),
        },
    )
    needed = {(str(kind), str(entity_id)) for kind, entity_id, need in await cur.fetchall() if need}
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
    at = job.claimed_at
    async with conn.transaction(), conn.pipeline():
        if job.kind == "plan":
            found = plan_rows(payload, job.entity_id, zone)
            plan = {
                **found.plan,
                "raw_payload": Jsonb(found.plan["raw_payload"]),
                "enriched_at": at,
            }
            await conn.execute(query("enrich_plan_folder"), {"folder_id": plan["folder_id"]})
            await conn.execute(query("enrich_plan"), plan)
            if found.templates:
                await conn.execute(
                    query("enrich_templates"), {"rows": Jsonb(found.templates), "enriched_at": at}
                )
        else:
            await conn.execute(
                query("enrich_folders"), {"rows": Jsonb(folder_rows(payload)), "enriched_at": at}
            )
        await conn.execute(query("enrich_done"), job.key)


async def save_missing(conn: AsyncConnection[Any], job: Job) -> None:
    """The API does not know the plan: note the lookup and drop the job."""
    async with conn.transaction():
        await conn.execute(
            query("enrich_plan_missing"), {"id": job.entity_id, "enriched_at": job.claimed_at}
        )
        await conn.execute(query("enrich_done"), job.key)


async def fail(conn: AsyncConnection[Any], job: Job, error: str, delay_seconds: float) -> None:
    """Record a failed attempt; the job is tried again after `delay_seconds`."""
    async with conn.transaction():
        await conn.execute(
            query("enrich_fail"), {**job.key, "error": error[:1000], "delay_seconds": delay_seconds}
        )


def not_found(exc: BaseException) -> bool:
    """True when the API answered 404 (the plan was deleted, or is not visible to us)."""
    from beproduct_sync.api.client import BeProductNotFound

    return isinstance(exc, BeProductNotFound)


def retry_after(exc: BaseException) -> float:
    """Seconds the API asked us to wait (429 Retry-After), when the client exposes it."""
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, int | float) else 0.0


async def settle(conn: AsyncConnection[Any], job: Job, result: Any, config: EnrichConfig) -> str:
    """Save a fetch's result or record its failure; returns the outcome label."""
    if isinstance(result, BaseException) and not isinstance(result, Exception):
        raise result  # cancellation: stop now, the lease hands the job back
    if isinstance(result, Exception) and job.kind == "plan" and not_found(result):
        await save_missing(conn, job)
        return "missing"
    error: Exception | None = result if isinstance(result, Exception) else None
    if error is None:
        try:
            await save(conn, job, result, config.zone)
            return "done"
        except Exception as exc:  # noqa: BLE001 - a response we cannot store is a failed attempt
            error = exc
    delay = inbox.retry_delay(job.attempts + 1, config.retry_base_seconds, config.retry_max_seconds)
    message = describe_error(error)
    await fail(conn, job, message, max(delay, retry_after(error)))
    log.warning(
        "enrichment_failed",
        kind=job.kind,
        entity_id=job.entity_id,
        attempt=job.attempts + 1,
        retry_in_s=round(delay, 2),
        error=message,
    )
    return "failed"


async def queue_counts(conn: AsyncConnection[Any]) -> dict[str, int]:
    """Outstanding jobs by status (every status present, zero when none)."""
    cur = await conn.execute(query("enrich_queue_stats"))
    found = {str(status): int(n) for status, n in await cur.fetchall()}
    return {s: found.get(s, 0) for s in JOB_STATUSES}


async def run_batch(conn: AsyncConnection[Any], client: Source, config: EnrichConfig) -> int:
    """Claim due jobs, fetch them concurrently, store each result; returns how many ran."""
    claimed = await claim(conn, config.batch_size, config.lease_seconds)
    jobs = await still_needed(conn, claimed, config.ttl_seconds)
    if jobs:
        results = await asyncio.gather(*(fetch(client, j) for j in jobs), return_exceptions=True)
        for job, result in zip(jobs, results, strict=True):
            outcome = await settle(conn, job, result, config)
            ENRICHMENT_OUTCOMES.labels(job.kind, outcome).inc()
    ENRICHMENT_QUEUE.set(sum((await queue_counts(conn)).values()))
    return len(claimed)

"""Leases on inbox rows: claim due events for a worker, renew, release, count the queue.

A claim marks rows 'processing' under a lease (FOR UPDATE SKIP LOCKED, so concurrent workers
take disjoint batches); a worker that dies simply lets its lease run out and the rows become
claimable again. Each claim is counted, so an event that kills its worker every time is noticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row, scalar_row

from beproduct_sync.sql import query


@dataclass(frozen=True)
class Claimed:
    """One event a worker holds under its lease."""

    id: int
    payload: Any
    digest: bytes
    attempts: int
    received_at: datetime
    action: str | None
    claims: int = 0  # times claimed (this claim included) since received or replayed

    @property
    def unfinished_claims(self) -> int:
        """Earlier claims that ended without the apply settling: the worker died or lost its
        lease. (Every settled attempt went through a claim, except ingest and replay --now.)"""
        return max(self.claims - 1 - self.attempts, 0)


def claims_exhausted(entry: Claimed) -> str:
    """The readable reason an event claimed too often is dead-lettered."""
    text = (
        f"claimed {max(entry.unfinished_claims, 1)} times without finishing: the worker"
        " crashed or its lease ran out each time"
    )
    if entry.attempts:
        text += f" (besides {entry.attempts} attempt(s) that failed)"
    return text + "; dead-lettered rather than claimed again, replay it once the cause is fixed"


async def claim(
    conn: AsyncConnection[Any], worker: str, limit: int, lease_seconds: float
) -> list[Claimed]:
    """Claim up to `limit` due events for `worker`, oldest first."""
    cur = conn.cursor(row_factory=class_row(Claimed))
    params = {"worker": worker, "limit": limit, "lease_seconds": lease_seconds}
    await cur.execute(query("worker_claim"), params)
    return sorted(await cur.fetchall(), key=lambda e: e.id)


async def renew(
    conn: AsyncConnection[Any], worker: str, ids: list[int], lease_seconds: float
) -> set[int]:
    """Extend the lease on `ids`; returns those this worker still owns."""
    cur = conn.cursor(row_factory=scalar_row)
    await cur.execute(
        query("worker_renew"), {"worker": worker, "ids": ids, "lease_seconds": lease_seconds}
    )
    return set(await cur.fetchall())


async def release(conn: AsyncConnection[Any], worker: str, ids: list[int]) -> None:
    """Give back claimed events that were not started."""
    if ids:
        await conn.execute(query("worker_release"), {"worker": worker, "ids": ids})


@dataclass(frozen=True)
class QueueStats:
    """Events still to be worked on (pending, processing, failed) and the oldest one's age."""

    depth: int
    oldest_seconds: float | None


async def queue_stats(conn: AsyncConnection[Any]) -> QueueStats:
    """The queue's depth and age, from the partial indexes."""
    cur = conn.cursor(row_factory=class_row(QueueStats))
    found = await (await cur.execute(query("worker_queue_stats"))).fetchone()
    assert found is not None
    return found

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

from beproduct_sync.apply.writer import query


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

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Claimed:
        """From a worker_claim / replay_reset row: id, payload, body_sha256, attempts,
        received_at, action and, optionally, claims."""
        id_, payload, digest, attempts, received_at, action, *more = row
        claims = int(more[0]) if more and more[0] is not None else 0
        return cls(int(id_), payload, bytes(digest), int(attempts), received_at, action, claims)

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
    cur = await conn.execute(
        query("worker_claim"),
        {"worker": worker, "limit": limit, "lease_seconds": lease_seconds},
    )
    return sorted((Claimed.from_row(r) for r in await cur.fetchall()), key=lambda e: e.id)


async def renew(
    conn: AsyncConnection[Any], worker: str, ids: list[int], lease_seconds: float
) -> set[int]:
    """Extend the lease on `ids`; returns those this worker still owns."""
    cur = await conn.execute(
        query("worker_renew"), {"worker": worker, "ids": ids, "lease_seconds": lease_seconds}
    )
    return {int(r[0]) for r in await cur.fetchall()}


async def release(conn: AsyncConnection[Any], worker: str, ids: list[int]) -> None:
    """Give back claimed events that were not started."""
    if ids:
        await conn.execute(query("worker_release"), {"worker": worker, "ids": ids})


async def queue_stats(conn: AsyncConnection[Any]) -> tuple[int, float | None]:
    """Events waiting (pending, processing, failed) and the oldest one's age in seconds."""
    cur = await conn.execute(query("worker_queue_stats"))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0]), (float(row[1]) if row[1] is not None else None)

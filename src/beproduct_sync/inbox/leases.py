"""Leases on inbox rows: claim due events for a worker, renew, release, count the queue.

A claim marks rows 'processing' under a lease (FOR UPDATE SKIP LOCKED, so concurrent workers
take disjoint batches); a worker that dies simply lets its lease run out and the rows become
claimable again. Each claim is counted, so an event that kills its worker every time is noticed.

Faster than the lease: each worker process renews a heartbeat (ops.worker_process), and the
claims of a process whose heartbeat stopped are taken over at once; a supervisor that sees its
child exit hands the child's claims back itself. Workers mark the events they begin applying
(`start`), so a takeover charges a claim only to the events in flight when the process died,
never to the rest of its batch.
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


DEAD_AFTER_SECONDS = 3.0  # default: a process silent this long has crashed (see heartbeat)


async def claim(
    conn: AsyncConnection[Any],
    worker: str,
    limit: int,
    lease_seconds: float,
    dead_after: float = DEAD_AFTER_SECONDS,
) -> list[Claimed]:
    """Claim up to `limit` due events for `worker`, oldest first, taking over those of worker
    processes whose heartbeat is older than `dead_after` seconds."""
    cur = conn.cursor(row_factory=class_row(Claimed))
    params = {
        "worker": worker,
        "limit": limit,
        "lease_seconds": lease_seconds,
        "dead_after": dead_after,
    }
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


async def start(conn: AsyncConnection[Any], worker: str, ids: list[int]) -> None:
    """Mark claimed events as being applied now (committed first: autocommit `conn`)."""
    if ids:
        await conn.execute(query("worker_start"), {"worker": worker, "ids": ids})


async def heartbeat(conn: AsyncConnection[Any], process: str, host: str, pid: int) -> None:
    """Record that worker process `process` is alive."""
    await conn.execute(query("worker_heartbeat"), {"process": process, "host": host, "pid": pid})


async def forget_process(conn: AsyncConnection[Any], process: str) -> None:
    """A worker process stopped cleanly: drop its heartbeat row."""
    await conn.execute(query("worker_process_stop"), {"process": process})


async def release_process(conn: AsyncConnection[Any], process: str) -> int:
    """Hand back every claim of worker process `process`, which has exited; returns how many."""
    cur = conn.cursor(row_factory=scalar_row)
    found = await (
        await cur.execute(query("worker_release_process"), {"process": process})
    ).fetchone()
    if found:
        await conn.execute(query("worker_wake"), {"payload": "released"})
    return int(found or 0)


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

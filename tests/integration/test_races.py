"""Dangerous interleavings of workers, made to happen on purpose rather than by luck: a worker
is stopped at a chosen point inside its apply transaction (a latch in the apply hook), or a
claim is held uncommitted while a second worker claims, and the test then checks what the
second worker can and cannot do."""

from __future__ import annotations

import asyncio
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg import AsyncConnection

from beproduct_sync.apply.policy import Policy
from beproduct_sync.apply.worker import connect, process_many
from beproduct_sync.inbox.leases import claim, renew
from beproduct_sync.model.rows import RowSet
from tests.helpers.factories import creates
from tests.helpers.workers import store, until

POLICY = Policy(zone=ZoneInfo("UTC"), max_attempts=3, retry_base_seconds=0.01)
# A claim or apply that waits this long on a lock is blocked, not slow.
BLOCKED_AFTER_SECONDS = 10.0


def inbox(url: str) -> list[tuple[int, str, int, int, str | None]]:
    """(id, status, attempts, claims, locked_by) of every inbox row."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT id, status, attempts, claims, locked_by FROM ops.beproduct_sync_log ORDER BY id"
        ).fetchall()


def leases_ran_out(url: str) -> bool:
    """Whether every inbox row's lease has run out."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT bool_and(locked_until < clock_timestamp()) FROM ops.beproduct_sync_log"
        ).fetchone()
    return bool(row and row[0])


class Latch:
    """An apply hook that stops the applying worker inside its transaction, after its rows are
    written and before it settles, until the test lets it go."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.go = asyncio.Event()

    async def __call__(self, conn: AsyncConnection[Any], plans: list[RowSet]) -> None:
        self.reached.set()
        await self.go.wait()


async def test_a_lease_that_runs_out_mid_apply_lets_no_second_worker_claim_or_apply_the_events(
    db_url: str,
) -> None:
    ids = await store(db_url, list(creates(3)))  # three styles: one apply transaction
    latch = Latch()
    policy = Policy(zone=POLICY.zone, after_apply=latch)
    async with await connect(db_url) as first, await connect(db_url) as second:
        batch = await claim(first, "worker-a", 10, lease_seconds=0.2)
        assert [e.id for e in batch] == ids
        applying = asyncio.create_task(process_many(first, batch, policy, "worker-a"))
        await asyncio.wait_for(latch.reached.wait(), BLOCKED_AFTER_SECONDS)

        # Worker A is mid-apply (rows written, not settled) and its lease runs out.
        def expired() -> bool:
            with psycopg.connect(db_url) as conn:
                row = conn.execute(
                    "SELECT bool_and(locked_until < clock_timestamp()) FROM ops.beproduct_sync_log"
                ).fetchone()
            return bool(row and row[0])

        await until(expired)
        # Worker B looks for work now: the rows A is applying are locked by A's transaction
        # (log_lock_owned.sql, FOR UPDATE), so B's claim passes them by, without waiting.
        stolen = await asyncio.wait_for(
            claim(second, "worker-b", 10, lease_seconds=60), BLOCKED_AFTER_SECONDS
        )
        latch.go.set()
        outcomes = await asyncio.wait_for(applying, BLOCKED_AFTER_SECONDS)
        if stolen:  # show what taking them over would do: a second apply and settle
            await process_many(second, stolen, POLICY, "worker-b")
    assert [e.id for e in stolen] == []
    assert [o.status for o in outcomes] == ["applied"] * 3
    # Applied once and settled once each: one attempt, one claim, no lease left behind.
    assert inbox(db_url) == [(i, "applied", 1, 1, None) for i in ids]


async def test_two_workers_claiming_at_once_take_disjoint_batches_without_waiting_and_apply_once(
    db_url: str,
) -> None:
    ids = await store(db_url, list(creates(10)))
    async with await connect(db_url) as first, await connect(db_url) as second:
        async with first.transaction():
            mine = await claim(first, "worker-a", 5, lease_seconds=60)
            # A's claim is not committed yet: its five rows are locked. B must skip them and
            # take the other five at once (SKIP LOCKED), not queue behind A.
            theirs = await asyncio.wait_for(
                claim(second, "worker-b", 10, lease_seconds=60), BLOCKED_AFTER_SECONDS
            )
        assert [e.id for e in mine] == ids[:5]
        assert [e.id for e in theirs] == ids[5:]
        done = await asyncio.gather(
            process_many(first, mine, POLICY, "worker-a"),
            process_many(second, theirs, POLICY, "worker-b"),
        )
    assert [o.status for batch in done for o in batch] == ["applied"] * 10
    assert inbox(db_url) == [(i, "applied", 1, 1, None) for i in ids]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM ops.tracking_plan_style").fetchone() == (10,)


async def test_a_lease_that_ran_out_while_its_worker_was_stalled_passes_to_another_worker(
    db_url: str,
) -> None:
    ids = await store(db_url, list(creates(3)))
    async with await connect(db_url) as first, await connect(db_url) as second:
        stalled = await claim(first, "worker-a", 10, lease_seconds=0.2)
        # A stalls before applying (no transaction open) until its lease has run out.
        await until(lambda: leases_ran_out(db_url))
        taken = await claim(second, "worker-b", 10, lease_seconds=60)
        assert [e.id for e in taken] == ids
        # A wakes up: it may renew only what it still holds (nothing) and applies nothing.
        assert await renew(first, "worker-a", ids, 60) == set()
        late = await process_many(first, stalled, POLICY, "worker-a")
        assert [o.status for o in late] == ["skipped"] * 3
        assert [o.status for o in await process_many(second, taken, POLICY, "worker-b")] == [
            "applied"
        ] * 3
    # One apply each (attempts 1), by B; both claims counted.
    assert inbox(db_url) == [(i, "applied", 1, 2, None) for i in ids]

"""The receiver's group commit (web.intake) against a real database: concurrent bodies share
commits, each caller gets its own row, and a body the database refuses fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from beproduct_sync import db
from beproduct_sync.inbox.log import Incoming
from beproduct_sync.web.connections import Connections
from beproduct_sync.web.intake import Intake


@pytest.fixture
async def conns(db_url: str) -> AsyncIterator[Connections]:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        db_url,
        min_size=1,
        max_size=4,
        open=False,
        connection_class=db.AsyncConnection,
        kwargs=db.pool_kwargs(),
    )
    await pool.open()
    try:
        yield Connections(pool, db_url, 5.0)
    finally:
        await pool.close()


def stored(url: str) -> list[tuple[int, Any, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT id, payload, deliveries FROM ops.beproduct_sync_log ORDER BY id"
        ).fetchall()


async def test_concurrent_bodies_share_a_commit_and_each_gets_its_own_row(
    db_url: str, conns: Connections
) -> None:
    intake = Intake(conns.run, linger_seconds=0.05)
    bodies = [{"eventType": "OnChange", "n": n} for n in range(20)]
    got = await asyncio.gather(*(intake.store(Incoming.of(b)) for b in bodies))
    assert intake.batches <= 2  # 20 requests, at most one commit per flusher
    rows = {row_id: payload for row_id, payload, _ in stored(db_url)}
    assert [rows[r.id] for r in got] == bodies
    assert not any(r.duplicate for r in got)


async def test_a_repeat_in_the_same_batch_is_a_duplicate_of_the_first(
    db_url: str, conns: Connections
) -> None:
    intake = Intake(conns.run, linger_seconds=0.05)
    body = {"eventType": "OnDelete", "headerId": "x"}
    first, again = await asyncio.gather(
        intake.store(Incoming.of(body)), intake.store(Incoming.of(body))
    )
    assert (first.duplicate, again.duplicate, again.id) == (False, True, first.id)
    assert stored(db_url) == [(first.id, body, 2)]


async def test_a_body_the_database_refuses_fails_alone_and_its_batch_mates_are_stored(
    db_url: str, conns: Connections
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION public.refuse_poison() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN IF NEW.payload ? 'poison' THEN RAISE EXCEPTION 'refused'; END IF;"
            " RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON ops.beproduct_sync_log"
            " FOR EACH ROW EXECUTE FUNCTION public.refuse_poison()"
        )
    intake = Intake(conns.run, linger_seconds=0.05)
    bodies: list[dict[str, Any]] = [{"eventType": "OnChange", "n": n} for n in range(5)]
    bodies.insert(2, {"eventType": "OnChange", "poison": True})
    got = await asyncio.gather(
        *(intake.store(Incoming.of(b)) for b in bodies), return_exceptions=True
    )
    assert isinstance(got[2], psycopg.errors.RaiseException)
    assert all(not isinstance(g, BaseException) for i, g in enumerate(got) if i != 2)
    assert [p for _, p, _ in stored(db_url)] == [b for b in bodies if "poison" not in b]

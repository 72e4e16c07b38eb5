"""Workers drain the inbox to the same rows as ingest, once per event, however many there are."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from beproduct_sync import bootstrap, db
from beproduct_sync.apply.ingest import ingest
from tests.helpers.factories import stream
from tests.helpers.workers import (
    drain,
    make_runtime,
    scalar,
    snapshot,
    statuses,
    store,
    until,
    waiting,
)


async def test_events_drained_by_workers_reach_the_same_rows_as_ingest(
    db_url: str, reference_db_url: str, tmp_path: Path
) -> None:
    bodies = list(stream(6))
    for i, body in enumerate(bodies):
        (tmp_path / f"{i:04d}.json").write_bytes(orjson.dumps(body))
    rt = make_runtime(reference_db_url)
    async with await db.aconnect(reference_db_url, autocommit=True) as conn:
        summary = await ingest(conn, [tmp_path], rt.policy)
    assert summary.counts["applied"] == len(bodies)

    await store(db_url, bodies)
    await drain(make_runtime(db_url), count=2)

    assert snapshot(db_url) == snapshot(reference_db_url)
    assert set(statuses(db_url)) <= {"applied", "stale"}
    assert sum(statuses(db_url).values()) == len(bodies)


async def test_concurrent_workers_apply_every_event_exactly_once(db_url: str) -> None:
    families = 40
    bodies = list(stream(families))
    await store(db_url, bodies)
    # Small batches so the four loops interleave and contend for the same rows.
    await drain(make_runtime(db_url, beproduct_sync_batch_size=5), count=4)

    assert set(statuses(db_url)) <= {"applied", "stale"}
    # Every settle (applied, stale, failed) adds one attempt: 1 everywhere means no event was
    # settled twice and none failed on the way.
    attempts = scalar(db_url, "SELECT array_agg(DISTINCT attempts) FROM ops.beproduct_sync_log")
    assert attempts == [1]
    styles = 2 * (families + 1)  # each family (and the samples) touches two styles
    assert scalar(db_url, "SELECT count(*) FROM ops.tracking_plan_style") == styles
    assert scalar(db_url, "SELECT count(*) FROM ops.tracking_plan_style_timeline") == 26 * (
        families + 1
    )
    assert scalar(db_url, "SELECT count(*) FROM ops.tracking_timeline_assignment") == families + 1
    assert scalar(db_url, "SELECT count(*) FROM ops.tracking_plan_style WHERE active") == (
        families + 1
    )
    assert scalar(db_url, "SELECT count(*) FROM ops.import_errors WHERE severity = 'error'") == 0


async def test_a_notify_wakes_idle_workers_long_before_the_next_poll(db_url: str) -> None:
    rt = make_runtime(db_url, beproduct_sync_poll_seconds=30.0)
    stop = asyncio.Event()
    task = asyncio.create_task(bootstrap.workers(rt, stop, 2))
    try:
        await asyncio.sleep(0.5)  # both loops have claimed nothing and gone to sleep
        async with await db.aconnect(db_url, autocommit=True) as conn:
            log_id = (await store(db_url, list(stream(0))))[0]
            await conn.execute("SELECT pg_notify('beproduct_sync_inbox', %s)", (str(log_id),))
        await until(lambda: waiting(db_url) < 3, timeout=3.0)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert statuses(db_url).get("applied", 0) >= 1


async def test_workers_poll_when_listen_is_disabled(db_url: str) -> None:
    rt = make_runtime(db_url, beproduct_sync_listen=False, beproduct_sync_poll_seconds=0.1)
    stop = asyncio.Event()
    task = asyncio.create_task(bootstrap.workers(rt, stop, 1))
    try:
        await asyncio.sleep(0.3)
        await store(db_url, list(stream(1)))  # no NOTIFY at all
        await until(lambda: waiting(db_url) == 0, timeout=5.0)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert statuses(db_url) == {"applied": 6}


async def test_workers_reconnect_after_their_connections_are_killed(db_url: str) -> None:
    bodies = list(stream(30))
    await store(db_url, bodies)
    rt = make_runtime(db_url, beproduct_sync_batch_size=5)
    stop = asyncio.Event()
    task = asyncio.create_task(bootstrap.workers(rt, stop, 2))
    try:
        await until(lambda: statuses(db_url).get("applied", 0) >= 10)
        killed = scalar(
            db_url,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name LIKE 'beproduct-sync %'",
        )
        assert killed >= 2
        await until(lambda: waiting(db_url) == 0)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    assert set(statuses(db_url)) <= {"applied", "stale"}
    assert scalar(db_url, "SELECT array_agg(DISTINCT attempts) FROM ops.beproduct_sync_log") == [1]
    assert scalar(db_url, "SELECT count(*) FROM ops.tracking_plan_style") == 62


async def test_zero_workers_wait_for_stop_without_touching_the_inbox(db_url: str) -> None:
    await store(db_url, list(stream(0)))
    stop = asyncio.Event()
    task = asyncio.create_task(bootstrap.workers(make_runtime(db_url), stop, 0))
    await asyncio.sleep(0.3)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert statuses(db_url) == {"pending": 3}

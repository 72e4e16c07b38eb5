"""`beproduct-sync worker` as a real OS process: SIGKILL mid-apply loses nothing and doubles
nothing; SIGTERM finishes the events in flight and exits 0."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import psycopg

from tests.helpers.factories import stream
from tests.helpers.workers import (
    drain,
    make_runtime,
    scalar,
    snapshot,
    start_worker,
    statuses,
    store,
    until,
    waiting,
)

BLOCKED_WORKERS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    " AND application_name = 'beproduct-sync worker' AND wait_event_type = 'Lock'"
)


def hold_style_table(url: str) -> psycopg.Connection:
    """Open a transaction that blocks every apply (readers still pass) until rolled back."""
    conn = psycopg.connect(url)
    conn.execute("LOCK TABLE ops.tracking_plan_style IN EXCLUSIVE MODE")
    return conn


async def test_a_worker_killed_mid_apply_loses_nothing_and_applies_nothing_twice(
    db_url: str, reference_db_url: str, tmp_path: Path
) -> None:
    bodies = list(stream(60))
    await store(db_url, bodies)
    env = {"BEPRODUCT_SYNC_BATCH_SIZE": "10", "BEPRODUCT_SYNC_LEASE_SECONDS": "1"}
    first = start_worker(db_url, tmp_path / "worker.log", "--workers", "2", **env)
    try:
        await until(lambda: statuses(db_url).get("applied", 0) >= 20)
        lock = hold_style_table(db_url)  # the next applies of both loops now hang mid-transaction
        await until(lambda: scalar(db_url, BLOCKED_WORKERS) == 2)
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
    at_kill = statuses(db_url)
    lock.rollback()
    lock.close()
    assert at_kill.get("processing", 0) >= 2  # claimed, some mid-apply, none finished
    assert at_kill.get("pending", 0) > 0

    second = start_worker(db_url, tmp_path / "worker.log", "--workers", "2", **env)
    try:
        await until(lambda: waiting(db_url) == 0, timeout=30)
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0
    finally:
        if second.poll() is None:
            second.kill()

    assert set(statuses(db_url)) <= {"applied", "stale"}
    assert sum(statuses(db_url).values()) == len(bodies)
    # Attempts count settles: 1 everywhere means the killed applies left no trace and nothing
    # was applied twice.
    assert scalar(db_url, "SELECT array_agg(DISTINCT attempts) FROM ops.beproduct_sync_log") == [1]
    await store(reference_db_url, bodies)
    await drain(make_runtime(reference_db_url), count=1)
    assert snapshot(db_url) == snapshot(reference_db_url)
    assert scalar(db_url, "SELECT count(*) FROM ops.tracking_plan_style") == 2 * 61


async def test_sigterm_finishes_the_events_in_flight_and_exits_zero(
    db_url: str, tmp_path: Path
) -> None:
    await store(db_url, list(stream(40)))
    # One event per apply transaction, so "in flight" is exactly one event per worker loop.
    proc = start_worker(
        db_url,
        tmp_path / "worker.log",
        "--workers",
        "2",
        BEPRODUCT_SYNC_BATCH_SIZE="10",
        BEPRODUCT_SYNC_APPLY_BATCH_SIZE="1",
    )
    try:
        await until(lambda: statuses(db_url).get("applied", 0) >= 10)
        lock = hold_style_table(db_url)
        await until(lambda: scalar(db_url, BLOCKED_WORKERS) == 2)
        before = statuses(db_url)
        settled_before = before.get("applied", 0) + before.get("stale", 0)
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        assert proc.poll() is None  # still finishing the two applies it has in flight
        lock.rollback()
        lock.close()
        assert await asyncio.to_thread(proc.wait, 15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    after = statuses(db_url)
    assert "processing" not in after
    assert after.get("applied", 0) + after.get("stale", 0) == settled_before + 2
    assert after.get("pending", 0) > 0  # the rest of each batch was handed back, not applied
    log = (tmp_path / "worker.log").read_text()
    assert "workers_stopped" in log
    assert "Traceback" not in log

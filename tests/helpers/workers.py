"""Helpers for worker tests: a runtime for a test database, storing events, draining them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from beproduct_sync import bootstrap, db
from beproduct_sync.bootstrap import Runtime, policy_from
from beproduct_sync.config import Settings
from beproduct_sync.inbox.log import record

WAITING = "status IN ('pending', 'processing') OR (status = 'failed' AND next_attempt_at <= now())"


def make_runtime(url: str, **overrides: Any) -> Runtime:
    """A runtime for `url` with fast polling; settings from arguments only, not .env."""
    values: dict[str, Any] = {"database_url": url, "beproduct_sync_poll_seconds": 0.05}
    values.update(overrides)
    settings = Settings(_env_file=None, **values)
    return Runtime(settings=settings, url=url, policy=policy_from(settings), embedded=False)


async def store(url: str, bodies: list[dict[str, Any]]) -> list[int]:
    """Record bodies in the inbox (pending), as the receiver does; returns their ids."""
    async with await db.aconnect(url, autocommit=True) as conn, conn.transaction():
        return [(await record(conn, body)).id for body in bodies]


def scalar(url: str, sql: str, params: Any = None) -> Any:
    """The first column of the first row."""
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
    return row[0] if row else None


def waiting(url: str) -> int:
    """Events a worker would still pick up now."""
    return int(scalar(url, f"SELECT count(*) FROM ops.beproduct_sync_log WHERE {WAITING}"))


def statuses(url: str) -> dict[str, int]:
    """Inbox rows per status."""
    with psycopg.connect(url) as conn:
        return dict(
            conn.execute(
                "SELECT status, count(*) FROM ops.beproduct_sync_log GROUP BY status"
            ).fetchall()
        )


async def until(predicate: Any, timeout: float = 20.0, every: float = 0.05) -> None:
    """Wait until predicate() (run in a thread) is true, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):
        assert time.monotonic() < deadline, "timed out waiting for the workers"
        await asyncio.sleep(every)


async def drain(rt: Runtime, count: int = 2, timeout: float = 20.0, done: Any = None) -> None:
    """Run workers until `done()` (default: nothing is waiting), then stop them gracefully."""
    stop = asyncio.Event()
    task = asyncio.create_task(bootstrap.workers(rt, stop, count))
    try:
        await until(done or (lambda: waiting(rt.url) == 0), timeout)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every ops table's content without bookkeeping timestamps, sorted."""
    tables = {
        "tracking_folder": "id, name, active",
        "tracking_plan": "id, folder_id, name, active",
        "tracking_timeline_template_item": "id, plan_id, name, short_name, department",
        "tracking_plan_style": "id, plan_id, style_header_id, style_number, style_name, color_id,"
        " color_name, active, deleted_at, source_updated_at, raw_payload",
        "tracking_plan_style_timeline": "id, plan_style_id, template_item_id, status::text,"
        " status_label, plan_date, due_date, rev_date, final_date, late, shared_with,"
        " source_updated_at, raw_payload",
        "tracking_timeline_assignment": "timeline_id, assignee_id, assignee_name",
    }
    with psycopg.connect(url) as conn:
        return {
            t: sorted(conn.execute(f"SELECT {cols} FROM ops.{t}").fetchall(), key=repr)
            for t, cols in tables.items()
        }


def start_worker(url: str, log: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    """`beproduct-sync worker` as a separate OS process against `url`."""
    full = {
        **os.environ,
        "DATABASE_URL": url,
        "BEPRODUCT_SYNC_AUTO_MIGRATE": "false",
        "BEPRODUCT_SYNC_LOG_FORMAT": "json",
        "BEPRODUCT_SYNC_POLL_SECONDS": "0.1",
        **env,
    }
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-c", "from beproduct_sync.cli import main; main()", "worker", *args],
            env=full,
            stdout=sink,
            stderr=sink,
        )

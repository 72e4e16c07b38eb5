"""A failing event is retried with backoff, dead-lettered after the last attempt, and brought
back by `beproduct-sync replay` once the cause is gone."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import psycopg
from typer.testing import CliRunner

import beproduct_sync.cli.worker  # noqa: F401 - registers worker and replay on the app
from beproduct_sync.cli import app
from tests.helpers.factories import stream
from tests.helpers.samples import load_sample
from tests.helpers.workers import drain, make_runtime, scalar, statuses, store

CHANGED_STYLE = "MSP26B30A"  # the style number of the real OnChange sample


def replay_cli(db_url: str, *args: str) -> Any:
    env = {
        "DATABASE_URL": db_url,
        "BEPRODUCT_SYNC_AUTO_MIGRATE": "false",
        "BEPRODUCT_SYNC_LOG_FORMAT": "json",
        "BEPRODUCT_SYNC_FAULT_STYLE_NUMBERS": "",
    }
    return CliRunner().invoke(app, ["replay", *args], env=env)


def errors_of(db_url: str, log_id: int) -> list[tuple[int, str]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT attempt, message FROM ops.import_errors WHERE sync_log_id = %s"
            " AND severity = 'error' ORDER BY id",
            (log_id,),
        ).fetchall()


async def test_a_failing_event_waits_out_its_backoff_before_the_next_attempt(db_url: str) -> None:
    ids = await store(db_url, list(stream(0)))
    changed = ids[1]
    rt = make_runtime(
        db_url,
        beproduct_sync_fault_style_numbers=CHANGED_STYLE,
        beproduct_sync_retry_base_seconds=30.0,
    )
    await drain(rt)  # drains what is due; the failed event is not due for 30 s

    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT status, attempts, next_attempt_at - now() > interval '20 seconds',"
            " locked_by FROM ops.beproduct_sync_log WHERE id = %s",
            (changed,),
        ).fetchone()
    assert row == ("failed", 1, True, None)
    assert statuses(db_url) == {"applied": 2, "failed": 1}
    [(attempt, message)] = errors_of(db_url, changed)
    assert attempt == 1
    assert "injected failure for style MSP26B30A" in message


def test_a_failing_event_is_dead_lettered_then_replayed_and_applied(db_url: str) -> None:
    body = load_sample("tracking_onchangetimeline.json")
    [log_id] = asyncio.run(store(db_url, [body]))
    failing = make_runtime(
        db_url,
        beproduct_sync_fault_style_numbers=CHANGED_STYLE,
        beproduct_sync_max_attempts=3,
        beproduct_sync_retry_base_seconds=0.01,
        beproduct_sync_retry_max_seconds=0.02,
    )
    # A retry 10 ms away is not "waiting" yet, so wait for the dead letter itself.
    asyncio.run(drain(failing, done=lambda: statuses(db_url) == {"dead": 1}))

    assert statuses(db_url) == {"dead": 1}
    assert scalar(db_url, "SELECT attempts FROM ops.beproduct_sync_log") == 3
    assert [a for a, _ in errors_of(db_url, log_id)] == [1, 2, 3]
    assert scalar(db_url, "SELECT count(*) FROM ops.tracking_plan_style_timeline") == 0

    listed = replay_cli(db_url, "--status", "dead", "--dry-run", "--json")
    assert listed.exit_code == 0, listed.output
    report = json.loads(listed.stdout)
    assert [c["id"] for c in report["chosen"]] == [log_id]
    assert report["reset"] == []
    assert statuses(db_url) == {"dead": 1}  # a dry run changes nothing

    done = replay_cli(db_url, "--id", str(log_id), "--now")
    assert done.exit_code == 0, done.output
    assert "replayed 1 event(s): applied=1" in done.stdout
    assert statuses(db_url) == {"applied": 1}
    assert scalar(db_url, "SELECT attempts FROM ops.beproduct_sync_log") == 1
    assert [a for a, _ in errors_of(db_url, log_id)] == [1, 2, 3]  # history kept
    assert scalar(db_url, "SELECT status::text FROM ops.tracking_plan_style_timeline") == (
        "APPROVED"
    )


def test_replay_without_now_queues_the_events_for_the_workers(db_url: str) -> None:
    ids = asyncio.run(store(db_url, list(stream(1))))
    asyncio.run(
        drain(
            make_runtime(
                db_url,
                beproduct_sync_fault_style_numbers=CHANGED_STYLE,
                beproduct_sync_max_attempts=1,
            )
        )
    )
    dead = [
        i
        for i in ids
        if scalar(db_url, "SELECT status FROM ops.beproduct_sync_log WHERE id = %s", (i,)) == "dead"
    ]
    assert len(dead) == 1  # only the sample OnChange carries the plain style number

    done = replay_cli(db_url, "--status", "dead")
    assert done.exit_code == 0, done.output
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT status, attempts, next_attempt_at <= now() FROM ops.beproduct_sync_log"
            " WHERE id = %s",
            (dead[0],),
        ).fetchone()
    assert row == ("pending", 0, True)

    asyncio.run(drain(make_runtime(db_url)))
    assert set(statuses(db_url)) <= {"applied", "stale"}


def test_replay_refuses_queued_statuses_and_an_empty_selection(db_url: str) -> None:
    nothing = replay_cli(db_url)
    assert nothing.exit_code == 2
    assert "Choose what to replay" in nothing.output
    queued = replay_cli(db_url, "--status", "pending")
    assert queued.exit_code == 2
    assert "Traceback" not in queued.output


def test_replay_by_time_range_picks_only_events_received_inside_it(db_url: str) -> None:
    ids = asyncio.run(store(db_url, list(stream(0))))
    asyncio.run(drain(make_runtime(db_url)))
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE ops.beproduct_sync_log SET received_at = '2026-01-01T12:00:00Z' WHERE id = %s",
            (ids[0],),
        )
    done = replay_cli(db_url, "--since", "2026-01-01", "--until", "2026-01-02", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["reset"] == [ids[0]]
    assert (
        scalar(db_url, "SELECT status FROM ops.beproduct_sync_log WHERE id = %s", (ids[0],))
        == "pending"
    )
    assert (
        scalar(db_url, "SELECT count(*) FROM ops.beproduct_sync_log WHERE status = 'pending'") == 1
    )


def test_replay_of_an_unknown_id_says_so_and_exits_non_zero(db_url: str) -> None:
    done = replay_cli(db_url, "--id", "999999")
    assert done.exit_code == 1
    assert "999999" in done.output

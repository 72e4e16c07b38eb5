"""Retention: `beproduct-sync prune` deletes old settled events and old import errors in short
batches, keeps what a person still needs, and a pruned body delivered again does no harm."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import psycopg

from beproduct_sync import bootstrap
from tests.helpers.cli import run_cli
from tests.helpers.live_server import auth, live_server, webhook_url
from tests.helpers.samples import load_sample
from tests.helpers.workers import drain, make_runtime, snapshot, statuses, store, until


def prune(db_url: str, *args: str) -> tuple[int, str]:
    done = run_cli(
        "prune", *args, env={"DATABASE_URL": db_url, "BEPRODUCT_SYNC_AUTO_MIGRATE": "false"}
    )
    return done.returncode, (done.stdout + done.stderr).strip()


def _bodies(n: int) -> list[dict[str, Any]]:
    base = load_sample("tracking_onchangetimeline.json")
    return [{**base, "n": i} for i in range(n)]


def _age(db_url: str, days: int, where: str = "true") -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(
            f"UPDATE ops.beproduct_sync_log SET received_at = now() - make_interval(days => %s)"
            f" WHERE {where}",
            (days,),
        )
        conn.execute(
            "UPDATE ops.import_errors SET created_at = now() - make_interval(days => %s)", (days,)
        )


def test_prune_deletes_old_settled_events_in_batches_and_keeps_dead_failed_and_recent(
    db_url: str,
) -> None:
    ids = asyncio.run(store(db_url, _bodies(1200)))  # more than two batches of 500
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "UPDATE ops.beproduct_sync_log SET status = CASE WHEN id % 10 = 0 THEN 'dead'"
            " WHEN id % 10 = 1 THEN 'failed' WHEN id % 10 = 2 THEN 'pending'"
            " WHEN id % 10 = 3 THEN 'stale' WHEN id % 10 = 4 THEN 'ignored' ELSE 'applied' END"
        )
        conn.execute(
            "INSERT INTO ops.import_errors (sync_log_id, message)"
            " SELECT id, 'old problem' FROM ops.beproduct_sync_log WHERE id % 10 IN (0, 5)"
        )
    _age(db_url, 100, f"id <= {ids[999]}")  # the first 1000 are old, the last 200 recent
    before = statuses(db_url)

    code, out = prune(db_url, "--older-than", "90d", "--dry-run")
    assert code == 0, out
    assert out.startswith("would delete 700 event(s) (applied, stale, ignored)"), out
    assert statuses(db_url) == before

    code, out = prune(db_url, "--older-than", "90d")
    assert code == 0, out
    assert out.startswith("deleted 700 event(s)"), out
    assert "and 240 import error(s)" in out  # 100 of pruned events, 140 old ones of dead events
    after = statuses(db_url)
    # Left: every dead, failed and pending row, and the recent 200's settled ones.
    assert after == {
        "dead": 120,
        "failed": 120,
        "pending": 120,
        "applied": 100,
        "stale": 20,
        "ignored": 20,
    }

    code, out = prune(db_url, "--older-than", "90d", "--status", "dead")
    assert code == 0, out
    assert out.startswith("deleted 100 event(s) (dead)"), out
    code, out = prune(db_url, "--older-than", "90d", "--status", "pending")
    assert code == 2 and "cannot be pruned" in out
    code, out = prune(db_url, "--older-than", "ninety days")
    assert code == 2 and "not a duration" in out


def test_a_late_duplicate_of_a_pruned_body_is_applied_as_stale(db_url: str) -> None:
    create = load_sample("tracking_oncreate.json")
    change = load_sample("tracking_onchangetimeline.json")
    with live_server(db_url) as base:
        for body in (create, change):
            assert httpx.post(webhook_url(base), json=body, headers=auth()).status_code == 202
        asyncio.run(drain(make_runtime(db_url), count=1))
        applied = snapshot(db_url)
        _age(db_url, 40)
        code, out = prune(db_url, "--older-than", "30d")
        assert code == 0 and out.startswith("deleted 2 event(s)"), out
        # BeProduct redelivers the older of the two: no longer known, so stored again.
        late = httpx.post(webhook_url(base), json=create, headers=auth())
        assert late.status_code == 202
        asyncio.run(drain(make_runtime(db_url), count=1))
    assert statuses(db_url) == {"stale": 1}
    assert snapshot(db_url) == applied  # the newer change stands


def test_the_receiver_commits_with_synchronous_commit_on_whatever_the_default(
    db_url: str,
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        dbname = conn.info.dbname
        conn.execute(f'ALTER DATABASE "{dbname}" SET synchronous_commit = off')
        conn.execute("CREATE TABLE public.commit_probe (setting text)")
        conn.execute(
            "CREATE FUNCTION public.commit_probe() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN INSERT INTO public.commit_probe"
            " VALUES (current_setting('synchronous_commit')); RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER commit_probe AFTER INSERT ON ops.beproduct_sync_log"
            " FOR EACH ROW EXECUTE FUNCTION public.commit_probe()"
        )
    with live_server(db_url) as base:  # its connections start with the database's default
        reply = httpx.post(
            webhook_url(base), json=load_sample("tracking_oncreate.json"), headers=auth()
        )
    assert reply.status_code == 202
    with psycopg.connect(db_url) as conn:
        default = conn.execute("SHOW synchronous_commit").fetchone()
        seen = conn.execute("SELECT setting FROM public.commit_probe").fetchall()
    assert default == ("off",)
    assert seen == [("on",)]


async def test_serve_prunes_on_a_schedule_only_when_retention_days_is_set(db_url: str) -> None:
    await store(db_url, _bodies(3))
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE ops.beproduct_sync_log SET status = 'applied'")
    _age(db_url, 10)
    assert bootstrap.retention_work(make_runtime(db_url), asyncio.Event()) is None  # off
    stop = asyncio.Event()
    work = bootstrap.retention_work(make_runtime(db_url, beproduct_sync_retention_days=7), stop)
    assert work is not None
    task = asyncio.create_task(work)
    try:
        await until(lambda: statuses(db_url) == {})
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)

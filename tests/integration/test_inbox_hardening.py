"""Inbox hardening: bodies jsonb cannot hold as sent, events that kill their worker every time,
and dates the runbook's latency query cannot cast."""

from __future__ import annotations

import asyncio
import dataclasses
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from typer.testing import CliRunner

import beproduct_sync.cli.worker  # noqa: F401 - registers worker and replay on the app
from beproduct_sync import db
from beproduct_sync.apply.ingest import ingest
from beproduct_sync.apply.worker import Worker, WorkerConfig
from beproduct_sync.cli import app
from beproduct_sync.inbox.leases import claim
from beproduct_sync.model.body import canonical
from beproduct_sync.model.body import digest as body_digest
from tests.helpers.factories import stream
from tests.helpers.live_server import auth, live_server, webhook_url
from tests.helpers.samples import load_sample, sample_path
from tests.helpers.workers import drain, make_runtime, scalar, statuses, store

RUNBOOK_LATENCY = """
SELECT action, COUNT(*) AS event_count,
       AVG(EXTRACT(EPOCH FROM (processed_at - (payload->>'date')::timestamptz))) AS avg_seconds
FROM ops.beproduct_sync_log
WHERE processed_at > NOW() - INTERVAL '24 hours'
GROUP BY action;
"""
NAME = '"headerName": "WOLFPACK CAMO KENNEBEC SHORT"'
CHANGED_STYLE = "MSP26B30A"  # the style number of the real OnChange sample


def onchange_with_nul() -> bytes:
    """The real OnChange sample, byte for byte, with an escaped NUL inside its headerName."""
    text = sample_path("tracking_onchangetimeline.json").read_text()
    assert NAME in text
    return text.replace(NAME, '"headerName": "WOLFPACK CAMO\\u0000KENNEBEC SHORT"').encode()


def log_row(url: str, log_id: int, columns: str) -> tuple[Any, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            f"SELECT {columns} FROM ops.beproduct_sync_log WHERE id = %s", (log_id,)
        ).fetchone()
    assert row is not None
    return tuple(row)


def replay_cli(db_url: str, *args: str) -> Any:
    env = {
        "DATABASE_URL": db_url,
        "BEPRODUCT_SYNC_AUTO_MIGRATE": "false",
        "BEPRODUCT_SYNC_LOG_FORMAT": "json",
        "BEPRODUCT_SYNC_FAULT_STYLE_NUMBERS": "",
    }
    return CliRunner().invoke(app, ["replay", *args], env=env)


# 1. NUL in a body ----------------------------------------------------------------------------


def test_a_webhook_with_an_escaped_nul_is_acknowledged_stored_and_applied(db_url: str) -> None:
    body = onchange_with_nul()
    with live_server(db_url) as base:
        reply = httpx.post(webhook_url(base), content=body, headers=auth())
        again = httpx.post(webhook_url(base), content=body, headers=auth())
    assert reply.status_code == 202, reply.text
    log_id = reply.json()["id"]
    assert again.status_code == 200
    assert again.json() == {"id": log_id, "duplicate": True}

    name, raw, sha, deliveries = log_row(
        db_url, log_id, "payload->>'headerName', raw_body, body_sha256, deliveries"
    )
    assert name == "WOLFPACK CAMO\ufffdKENNEBEC SHORT"
    assert bytes(raw) == body  # the exact original, losslessly
    assert bytes(sha) == body_digest(canonical(orjson.loads(body)))  # hash of the original
    assert deliveries == 2

    asyncio.run(drain(make_runtime(db_url)))
    assert statuses(db_url) == {"applied": 1}
    assert scalar(db_url, "SELECT style_name FROM ops.tracking_plan_style") == (
        "WOLFPACK CAMO\ufffdKENNEBEC SHORT"
    )


def test_a_webhook_with_a_lone_surrogate_escape_is_acknowledged_stored_and_applied(
    db_url: str,
) -> None:
    text = sample_path("tracking_onchangetimeline.json").read_text()
    body = text.replace(NAME, '"headerName": "WOLFPACK \\ud800CAMO"').encode()
    with live_server(db_url) as base:
        reply = httpx.post(webhook_url(base), content=body, headers=auth())
        again = httpx.post(webhook_url(base), content=body, headers=auth())
        nan = httpx.post(webhook_url(base), content=b'{"a": NaN}', headers=auth())
    assert reply.status_code == 202, reply.text
    assert again.json() == {"id": reply.json()["id"], "duplicate": True}
    assert nan.status_code == 400  # still only JSON: a lone surrogate is the one leniency
    name, raw = log_row(db_url, reply.json()["id"], "payload->>'headerName', raw_body")
    assert name == "WOLFPACK \ufffdCAMO"
    assert bytes(raw) == body
    asyncio.run(drain(make_runtime(db_url)))
    assert statuses(db_url) == {"applied": 1}


def test_a_surrogate_body_that_cannot_be_stored_anyway_is_refused_with_400(db_url: str) -> None:
    huge = b'{"a": "\\ud800", "n": 123456789012345678901234567890}'
    deep = b'["\\ud800", ' + b"[" * 5000 + b"]" * 5000 + b"]"
    inf = b'{"a": "\\ud800", "x": 1e400}'
    with live_server(db_url) as base:
        replies = [
            httpx.post(webhook_url(base), content=b, headers=auth()) for b in (huge, deep, inf)
        ]
    assert [r.status_code for r in replies] == [400, 400, 400]
    assert [r.json()["error"] for r in replies] == ["invalid_json", "json_too_deep", "invalid_json"]


def test_out_of_range_dates_are_stored_and_settled_not_crashing_anything(db_url: str) -> None:
    bad_event = load_sample("tracking_onchangetimeline.json")
    bad_event["date"] = "0001-01-01T00:00:00+02:00"
    bad_due = load_sample("tracking_oncreate.json")
    bad_due["data"]["after"]["Timelines"][0]["DueDate"] = "0001-01-01T00:00:00+02:00"
    with live_server(db_url) as base:
        replies = [
            httpx.post(webhook_url(base), json=b, headers=auth()) for b in (bad_event, bad_due)
        ]
    assert [r.status_code for r in replies] == [202, 202]
    asyncio.run(drain(make_runtime(db_url)))
    assert statuses(db_url) == {"dead": 1, "applied": 1}
    assert (
        scalar(
            db_url, "SELECT count(*) FROM ops.tracking_plan_style_timeline WHERE due_date IS NULL"
        )
        == 1
    )


def test_nul_in_object_keys_is_replaced_and_an_ordinary_body_keeps_no_raw_copy(
    db_url: str,
) -> None:
    odd = {"eventType": "OnSomething", "da\x00ta": [{"k\x00": "v\x00"}], "date": None}
    [odd_id, plain_id] = asyncio.run(store(db_url, [odd, load_sample("tracking_oncreate.json")]))

    payload, raw = log_row(db_url, odd_id, "payload, raw_body")
    assert payload == {
        "eventType": "OnSomething",
        "da\ufffdta": [{"k\ufffd": "v\ufffd"}],
        "date": None,
    }
    assert orjson.loads(bytes(raw)) == odd  # canonical form of the original when no bytes given
    assert log_row(db_url, plain_id, "raw_body") == (None,)


def test_ingesting_a_file_with_an_escaped_nul_stores_and_applies_it(
    db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "onchange.json"
    path.write_bytes(onchange_with_nul())

    async def run() -> Any:
        async with await db.aconnect(db_url, autocommit=True) as conn:
            return await ingest(conn, [path], make_runtime(db_url).policy)

    summary = asyncio.run(run())
    assert summary.counts["applied"] == 1, summary.results
    assert scalar(db_url, "SELECT raw_body FROM ops.beproduct_sync_log") == path.read_bytes()
    assert scalar(db_url, "SELECT style_name FROM ops.tracking_plan_style") == (
        "WOLFPACK CAMO\ufffdKENNEBEC SHORT"
    )


# 2. Events that never finish -----------------------------------------------------------------


def expire_leases(url: str) -> None:
    """What a killed worker leaves behind once its lease runs out."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE ops.beproduct_sync_log SET locked_until = now() - interval '1 s'"
            " WHERE status = 'processing'"
        )


def test_an_event_whose_worker_dies_every_time_is_dead_lettered_and_replay_revives_it(
    db_url: str,
) -> None:
    [log_id] = asyncio.run(store(db_url, [load_sample("tracking_onchangetimeline.json")]))

    async def crash_once() -> None:  # claimed, then the worker dies before settling
        async with await db.aconnect(db_url, autocommit=True) as conn:
            assert [e.id for e in await claim(conn, "doomed:1:0", 10, 60.0)] == [log_id]
        expire_leases(db_url)

    for _ in range(3):
        asyncio.run(crash_once())
    assert log_row(db_url, log_id, "status, claims, attempts") == ("processing", 3, 0)

    asyncio.run(drain(make_runtime(db_url, beproduct_sync_max_attempts=3)))
    status, error, claims, processed = log_row(
        db_url, log_id, "status, last_error, claims, processed_at IS NOT NULL"
    )
    assert (status, claims, processed) == ("dead", 4, True)
    assert error.startswith(
        "claimed 3 times without finishing: the worker crashed or its lease ran out each time"
    )
    assert (
        scalar(
            db_url,
            "SELECT message FROM ops.import_errors WHERE sync_log_id = %s AND severity = 'error'",
            (log_id,),
        )
        == error
    )
    assert scalar(db_url, "SELECT count(*) FROM ops.tracking_plan_style") == 0  # not applied

    done = replay_cli(db_url, "--id", str(log_id))
    assert done.exit_code == 0, done.output
    assert log_row(db_url, log_id, "status, claims, attempts") == ("pending", 0, 0)
    asyncio.run(drain(make_runtime(db_url, beproduct_sync_max_attempts=3)))
    assert log_row(db_url, log_id, "status") == ("applied",)
    assert scalar(db_url, "SELECT count(*) FROM ops.tracking_plan_style") == 1


def test_an_event_claimed_more_often_than_the_maximum_attempts_is_not_applied(
    db_url: str,
) -> None:
    [log_id] = asyncio.run(store(db_url, [load_sample("tracking_oncreate.json")]))
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE ops.beproduct_sync_log SET claims = 50, attempts = 2")
    asyncio.run(drain(make_runtime(db_url, beproduct_sync_max_attempts=8)))
    status, error, attempts = log_row(db_url, log_id, "status, last_error, attempts")
    assert (status, attempts) == ("dead", 3)
    assert "claimed 48 times without finishing" in error
    assert "besides 2 attempt(s) that failed" in error
    assert scalar(db_url, "SELECT count(*) FROM ops.tracking_plan_style") == 0


class Crash(BaseException):
    """The worker process dying mid-apply: nothing in the apply catches it."""


def test_a_crashing_event_is_retried_alone_so_the_events_claimed_with_it_still_apply(
    db_url: str,
) -> None:
    ids = asyncio.run(store(db_url, list(stream(0))))  # create, change (crashes), delete
    crashing = ids[1]
    rt = make_runtime(db_url, beproduct_sync_max_attempts=3)

    def fault(event: Any) -> None:
        if event.header_number == CHANGED_STYLE:
            raise Crash()

    policy = dataclasses.replace(rt.policy, fault=fault)

    async def rounds() -> int:
        crashes = 0
        async with await db.aconnect(db_url, autocommit=True) as conn:
            for _ in range(20):
                worker = Worker(db_url, policy, WorkerConfig(), f"w:1:{crashes}", asyncio.Event())
                batch = await claim(conn, worker.name, 10, 60.0)
                if not batch:
                    return crashes
                try:
                    await worker._work(conn, batch, asyncio.Event())
                except Crash:
                    crashes += 1
                    expire_leases(db_url)
        raise AssertionError("the queue never emptied")

    crashes = asyncio.run(rounds())
    assert crashes == 3  # the first one with its whole batch, then twice alone
    with psycopg.connect(db_url) as conn:
        rows: dict[int, str] = dict(
            conn.execute("SELECT id, status FROM ops.beproduct_sync_log").fetchall()
        )
        claims: dict[int, int] = dict(
            conn.execute("SELECT id, claims FROM ops.beproduct_sync_log").fetchall()
        )
    assert rows == {ids[0]: "applied", crashing: "dead", ids[2]: "applied"}
    assert claims[crashing] == 4
    assert max(claims[ids[0]], claims[ids[2]]) <= 2  # never charged for the crashes


def test_events_handed_back_unstarted_do_not_count_as_claimed(db_url: str) -> None:
    ids = asyncio.run(store(db_url, [load_sample("tracking_oncreate.json")]))

    async def claim_and_stop() -> None:
        async with await db.aconnect(db_url, autocommit=True) as conn:
            worker = Worker(
                db_url, make_runtime(db_url).policy, WorkerConfig(), "w:2:0", asyncio.Event()
            )
            batch = await claim(conn, worker.name, 10, 60.0)
            stop = asyncio.Event()
            stop.set()  # graceful shutdown before anything was started
            await worker._work(conn, batch, stop)

    asyncio.run(claim_and_stop())
    assert log_row(db_url, ids[0], "status, claims") == ("pending", 0)


# 3. Dates the runbook query cannot cast ------------------------------------------------------


def unreadable_bodies() -> list[dict[str, Any]]:
    change = load_sample("tracking_onchangetimeline.json")
    return [
        {**change, "date": "31/12/2025"},  # a tracking event: dead (malformed)
        {**change, "date": ""},  # '' does not cast either
        {"eventType": "OnUpdate", "objectType": "Style", "date": "31/12/2025"},  # ignored
        {"eventType": "OnUpdate", "objectType": "Style", "date": 20251231},  # ignored
    ]


def assert_runbook_query_works(url: str, good: dict[str, Any], bad: list[int]) -> None:
    with psycopg.connect(url) as conn:
        result = conn.execute(RUNBOOK_LATENCY).fetchall()
        assert [r[:2] for r in result] == [(good["eventType"], 1)]
        for log_id in bad:
            row = conn.execute(
                "SELECT status, processed_at, attempts, coalesce(last_error, reason)"
                " FROM ops.beproduct_sync_log WHERE id = %s",
                (log_id,),
            ).fetchone()
            assert row is not None
            status, processed, attempts, why = row
            assert status in ("dead", "ignored")
            assert processed is None
            assert attempts == 1
            assert why


def test_the_runbook_latency_query_works_after_workers_settle_unreadable_dates(
    db_url: str,
) -> None:
    good = load_sample("tracking_oncreate.json")
    [good_id, *bad] = asyncio.run(store(db_url, [good, *unreadable_bodies()]))
    asyncio.run(drain(make_runtime(db_url)))
    assert log_row(db_url, good_id, "status, processed_at IS NOT NULL") == ("applied", True)
    assert_runbook_query_works(db_url, good, bad)


def test_the_runbook_latency_query_works_after_ingest_settles_unreadable_dates(
    db_url: str, tmp_path: Path
) -> None:
    good = load_sample("tracking_oncreate.json")
    paths = []
    for i, body in enumerate([good, *unreadable_bodies()]):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_bytes(orjson.dumps(body))

    async def run() -> None:
        async with await db.aconnect(db_url, autocommit=True) as conn:
            await ingest(conn, paths, make_runtime(db_url).policy)

    asyncio.run(run())
    with psycopg.connect(db_url) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM ops.beproduct_sync_log ORDER BY id")]
    assert_runbook_query_works(db_url, good, ids[1:])


def test_the_migration_clears_processed_at_of_rows_settled_earlier_with_unreadable_dates(
    db_url: str,
) -> None:
    bodies = [load_sample("tracking_oncreate.json"), *unreadable_bodies()]
    ids = asyncio.run(store(db_url, bodies))
    sql = (
        resources.files("beproduct_sync.migrations")
        .joinpath("20261129000006_inbox_hardening.sql")
        .read_text()
    )
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE ops.beproduct_sync_log SET status = 'ignored', attempts = 1,"
            " processed_at = now()"
        )  # as settled before this fix
        conn.execute(sql.encode())
        conn.execute(sql.encode())  # idempotent
        stamped: dict[int, bool] = dict(
            conn.execute(
                "SELECT id, processed_at IS NOT NULL FROM ops.beproduct_sync_log"
            ).fetchall()
        )
        conn.execute(RUNBOOK_LATENCY).fetchall()
    assert stamped == {ids[0]: True, **dict.fromkeys(ids[1:], False)}

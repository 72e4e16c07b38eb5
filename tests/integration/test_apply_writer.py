"""Applying single events against a real Postgres: semantics per event type, errors, audit."""

from __future__ import annotations

import copy
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from beproduct_sync import db, migrations
from beproduct_sync.apply.ingest import ingest
from beproduct_sync.apply.policy import Policy
from tests.helpers.samples import load_case, load_sample, sample_path

POLICY = Policy(zone=ZoneInfo("UTC"), max_attempts=3, retry_base_seconds=0.01)


async def ingest_bodies(url: str, tmp_path: Any, bodies: list[Any]) -> dict[str, int]:
    paths = []
    for i, body in enumerate(bodies):
        p = tmp_path / f"{i:03d}.json"
        p.write_text(body if isinstance(body, str) else __import__("json").dumps(body))
        paths.append(p)
    async with await db.aconnect(url, autocommit=True) as conn:
        return (await ingest(conn, paths, POLICY)).counts


def one(url: str, sql: str, *params: Any) -> Any:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


async def test_a_change_for_an_unknown_style_and_plan_creates_them(db_url: str) -> None:
    async with await db.aconnect(db_url, autocommit=True) as conn:
        counts = (
            await ingest(conn, [sample_path("tracking_onchangetimeline.json")], POLICY)
        ).counts
    assert counts["applied"] == 1
    assert one(db_url, "SELECT id::text, folder_id::text FROM ops.tracking_plan") == [
        ("4b7d6906-1413-44bb-bcdd-47b7f9cc5643", "136625d5-d9cc-4139-8747-d98b85314676")
    ]
    assert one(
        db_url, "SELECT style_number, style_name, active, color_id FROM ops.tracking_plan_style"
    ) == [("MSP26B30A", "WOLFPACK CAMO KENNEBEC SHORT", True, None)]


async def test_an_older_create_arriving_after_a_change_still_fills_the_record_fields(
    db_url: str, tmp_path: Any
) -> None:
    change = load_sample("tracking_onchangetimeline.json")
    create = copy.deepcopy(load_sample("tracking_oncreate.json"))
    rec = create["data"]["after"]
    rec["Id"] = create["data"]["timelineId"] = change["data"]["after"]["Id"]
    rec["Timelines"][0]["Id"] = change["data"]["after"]["TimeLineItem"]["Id"]
    await ingest_bodies(db_url, tmp_path, [change, create])
    assert one(db_url, "SELECT color_name, active FROM ops.tracking_plan_style") == [
        ("STINGRAY", True)
    ]
    # The milestone keeps the newer OnChange state, not the older create's "Not Started".
    assert one(
        db_url,
        "SELECT status::text FROM ops.tracking_plan_style_timeline WHERE id = %s",
        change["data"]["after"]["TimeLineItem"]["Id"],
    ) == [("APPROVED",)]


async def test_a_stale_change_does_not_overwrite_newer_status(db_url: str, tmp_path: Any) -> None:
    newer = load_sample("tracking_onchangetimeline.json")
    older = copy.deepcopy(newer)
    older["date"] = "2025-11-06T05:00:00.0000000Z"
    older["data"]["after"]["TimeLineItem"]["Status"] = "Rejected"
    counts = await ingest_bodies(db_url, tmp_path, [newer, older])
    assert counts["applied"] == 1 and counts["stale"] == 1
    assert one(db_url, "SELECT status::text FROM ops.tracking_plan_style_timeline") == [
        ("APPROVED",)
    ]
    assert one(db_url, "SELECT status FROM ops.beproduct_sync_log ORDER BY id") == [
        ("applied",),
        ("stale",),
    ]


async def test_a_plan_learns_its_folder_once_and_webhooks_never_move_it(
    db_url: str, tmp_path: Any
) -> None:
    without = load_case("onchange_status_spelling.json")
    del without["data"]["planFolderId"]
    named = load_case("onchange_unknown_status.json")
    moved = load_case("onchange_reassigned.json")
    moved["data"]["planFolderId"] = "0f0f0f0f-0000-4000-8000-000000000009"
    sql = "SELECT folder_id::text FROM ops.tracking_plan"
    await ingest_bodies(db_url, tmp_path, [without])
    assert one(db_url, sql) == [(None,)]
    await ingest_bodies(db_url, tmp_path, [named])
    assert one(db_url, sql) == [("136625d5-d9cc-4139-8747-d98b85314676",)]
    # Moves between folders come from the API (enrichment, backfill, reconcile), not webhooks.
    await ingest_bodies(db_url, tmp_path, [moved])
    assert one(db_url, sql) == [("136625d5-d9cc-4139-8747-d98b85314676",)]


async def test_a_change_replaces_the_assignment_set(db_url: str, tmp_path: Any) -> None:
    await ingest_bodies(
        db_url,
        tmp_path,
        [load_sample("tracking_onchangetimeline.json"), load_case("onchange_reassigned.json")],
    )
    assert one(db_url, "SELECT assignee_name FROM ops.tracking_timeline_assignment") == [("dana",)]
    assert one(db_url, "SELECT shared_with->0->>'value' FROM ops.tracking_plan_style_timeline") == [
        ("Vendor QA",)
    ]


async def test_an_unknown_status_is_stored_verbatim_with_a_warning(
    db_url: str, tmp_path: Any
) -> None:
    counts = await ingest_bodies(db_url, tmp_path, [load_case("onchange_unknown_status.json")])
    assert counts["applied"] == 1
    assert one(db_url, "SELECT status, status_label FROM ops.tracking_plan_style_timeline") == [
        (None, "On Hold (vendor)")
    ]
    assert one(db_url, "SELECT severity, entity_type, message FROM ops.import_errors") == [
        (
            "warning",
            "tracking",
            "unknown status 'On Hold (vendor)' kept as status_label; status NULL",
        )
    ]


async def test_a_style_attribute_change_is_recorded_as_ignored_with_a_reason(
    db_url: str, tmp_path: Any
) -> None:
    counts = await ingest_bodies(db_url, tmp_path, [load_case("style_attribute_change.json")])
    assert counts["ignored"] == 1
    ((status, reason, action),) = one(
        db_url, "SELECT status, reason, action FROM ops.beproduct_sync_log"
    )
    assert (status, action) == ("ignored", "OnChange")
    assert "planId" in reason
    assert one(db_url, "SELECT count(*) FROM ops.tracking_plan") == [(0,)]


async def test_material_events_land_in_the_material_tables(db_url: str, tmp_path: Any) -> None:
    counts = await ingest_bodies(db_url, tmp_path, [load_case("oncreate_material.json")])
    assert counts["applied"] == 1
    assert one(db_url, "SELECT style_number, active FROM ops.tracking_plan_material") == [
        ("FAB-1001", True)
    ]
    assert one(db_url, "SELECT count(*) FROM ops.tracking_plan_material_timeline") == [(5,)]
    assert one(db_url, "SELECT count(*) FROM ops.tracking_plan_style") == [(0,)]


async def test_a_failing_apply_leaves_no_partial_rows_and_records_a_readable_error(
    db_url: str, tmp_path: Any
) -> None:
    # The milestones are written after the folder, plan and style rows of the same event: make
    # that last statement fail inside the database, as a constraint or a bug would.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION pg_temp_fail() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN IF NEW.status_label = 'BOOM' THEN"
            " RAISE EXCEPTION 'milestone rejected' USING ERRCODE = 'check_violation'; END IF;"
            " RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON ops.tracking_plan_style_timeline"
            " FOR EACH ROW EXECUTE FUNCTION pg_temp_fail()"
        )
    body = copy.deepcopy(load_sample("tracking_oncreate.json"))
    body["data"]["after"]["Timelines"][24]["Status"] = "BOOM"
    counts = await ingest_bodies(db_url, tmp_path, [body])
    assert counts["failed"] == 1
    for table in (
        "tracking_folder",
        "tracking_plan",
        "tracking_plan_style",
        "tracking_plan_style_timeline",
        "tracking_timeline_template_item",
    ):
        assert one(db_url, f"SELECT count(*) FROM ops.{table}") == [(0,)], table
    ((status, attempts, error),) = one(
        db_url, "SELECT status, attempts, last_error FROM ops.beproduct_sync_log"
    )
    assert (status, attempts) == ("failed", 1)
    assert error == "database error 23514: milestone rejected"
    ((message,),) = one(db_url, "SELECT message FROM ops.import_errors WHERE severity = 'error'")
    assert message == error


async def test_a_malformed_tracking_event_is_dead_lettered_at_once(
    db_url: str, tmp_path: Any
) -> None:
    body = copy.deepcopy(load_sample("tracking_oncreate.json"))
    body["date"] = "not a date"
    counts = await ingest_bodies(db_url, tmp_path, [body])
    assert counts["failed"] == 1
    ((log_id, status, error, attempts),) = one(
        db_url, "SELECT id, status, last_error, attempts FROM ops.beproduct_sync_log"
    )
    assert (status, attempts) == ("dead", 1)
    assert "timestamp" in error
    # ... and reported where operators look, against the style the sender named.
    assert one(
        db_url,
        "SELECT sync_log_id, entity_type, entity_id, severity, message FROM ops.import_errors",
    ) == [(log_id, "tracking", body["headerId"], "error", error)]


async def test_a_file_that_is_not_json_fails_without_storing_anything(
    db_url: str, tmp_path: Any
) -> None:
    counts = await ingest_bodies(db_url, tmp_path, ["{not json"])
    assert counts["failed"] == 1
    assert one(db_url, "SELECT count(*) FROM ops.beproduct_sync_log") == [(0,)]


async def test_runbook_queries_work_unchanged(db_url: str) -> None:
    async with await db.aconnect(db_url, autocommit=True) as conn:
        await ingest(conn, [sample_path("tracking_oncreate.json")], POLICY)
    with psycopg.connect(db_url) as conn:
        assert (
            len(
                conn.execute(
                    "SELECT * FROM ops.beproduct_sync_log ORDER BY processed_at DESC LIMIT 20"
                ).fetchall()
            )
            == 1
        )
        conn.execute(
            "SELECT * FROM ops.import_errors WHERE entity_type = 'tracking'"
            " ORDER BY created_at DESC"
        ).fetchall()
        rows = conn.execute(
            "SELECT action, COUNT(*) AS event_count,"
            " AVG(EXTRACT(EPOCH FROM (processed_at - (payload->>'date')::timestamptz)))"
            " AS avg_seconds"
            " FROM ops.beproduct_sync_log WHERE processed_at > NOW() - INTERVAL '24 hours'"
            " GROUP BY action"
        ).fetchall()
    assert [(a, c) for a, c, _ in rows] == [("OnCreate", 1)]


@pytest.mark.parametrize("twice", [1, 2])
def test_migrations_applied_again_are_a_no_op(empty_db_url: str, twice: int) -> None:
    first = migrations.migrate(empty_db_url)
    assert first == [m.version for m in migrations.bundled()]

    def schema() -> Any:
        return one(
            empty_db_url,
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = 'ops' ORDER BY 1, 2",
        )

    before = schema()
    for _ in range(twice):
        assert migrations.migrate(empty_db_url) == []
    assert schema() == before
    # The SQL itself is idempotent too (e.g. `supabase db push` or psql applying it again).
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        for m in migrations.bundled():
            conn.execute(m.sql.encode())
    assert schema() == before
    assert {
        r[0]
        for r in one(empty_db_url, "SELECT unnest(enum_range(NULL::ops.timeline_status))::text")
    } == {
        "NOT_STARTED",
        "IN_PROGRESS",
        "APPROVED",
        "APPROVED_WITH_CORRECTIONS",
        "REJECTED",
        "COMPLETE",
        "WAITING_ON",
        "NA",
    }

"""The three real BeProduct payloads, ingested in their real order, give the documented rows."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from beproduct_sync import db
from beproduct_sync.apply.ingest import ingest
from beproduct_sync.apply.policy import Policy
from tests.helpers.samples import SAMPLE_NAMES, sample_path

POLICY = Policy(zone=ZoneInfo("UTC"))
DELETED_STYLE = "b9f9d07f-7edf-496d-80c6-d51b57a3052b"
CHANGED_STYLE = "13c9c307-0f6a-4241-ab8f-cb31d0dc444d"


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every ops table's content without bookkeeping timestamps, sorted."""
    tables = {
        "tracking_folder": "id, name, brand, active",
        "tracking_plan": "id, folder_id, name, start_date, end_date, active",
        "tracking_timeline_template_item": "id, plan_id, name, short_name, department, page_name",
        "tracking_plan_style": "id, plan_id, style_header_id, style_number, style_name, color_id,"
        " color_name, supplier_name, active, deleted_at, source_updated_at, raw_payload",
        "tracking_plan_style_timeline": "id, plan_style_id, template_item_id, status::text,"
        " status_label, plan_date, due_date, rev_date, final_date, late, submits_quantity,"
        " shared_with, source_updated_at, raw_payload",
        "tracking_timeline_assignment": "timeline_id, assignee_id, assignee_name",
    }
    with psycopg.connect(url) as conn:
        return {
            t: sorted(conn.execute(f"SELECT {cols} FROM ops.{t}").fetchall(), key=repr)
            for t, cols in tables.items()
        }


async def run_ingest(url: str, names: tuple[str, ...] = SAMPLE_NAMES) -> dict[str, int]:
    async with await db.aconnect(url, autocommit=True) as conn:
        summary = await ingest(conn, [sample_path(n) for n in names], POLICY)
    return summary.counts


async def test_real_payloads_in_real_order_give_the_documented_rows(db_url: str) -> None:
    counts = await run_ingest(db_url)
    assert counts == {"applied": 3, "duplicate": 0, "stale": 0, "ignored": 0, "failed": 0}
    snap = snapshot(db_url)
    assert len(snap["tracking_folder"]) == 1
    assert len(snap["tracking_plan"]) == 1
    assert len(snap["tracking_plan_style"]) == 2
    assert len(snap["tracking_plan_style_timeline"]) == 26
    assert snap["tracking_timeline_assignment"] == [
        (
            __import__("uuid").UUID("5cc6d0e0-29d3-410b-a69a-eb90bface938"),
            __import__("uuid").UUID("875fe554-cd04-430d-a9a4-f95c27659293"),
            "chrisk",
        )
    ]
    with psycopg.connect(db_url) as conn:
        styles: dict[str, bool] = dict(
            conn.execute("SELECT id::text, active FROM ops.tracking_plan_style").fetchall()
        )
        assert styles == {DELETED_STYLE: False, CHANGED_STYLE: True}
        first = conn.execute(
            "SELECT status::text, status_label, due_date::text, rev_date::text, late"
            " FROM ops.tracking_plan_style_timeline"
            " WHERE id = '73431d54-c2c1-429e-b2f1-2746e4429790'"
        ).fetchone()
        assert first == ("IN_PROGRESS", "In Progress", "2025-11-06", "2025-11-06", True)
        changed = conn.execute(
            "SELECT status::text, final_date::text, plan_style_id::text"
            " FROM ops.tracking_plan_style_timeline"
            " WHERE id = '5cc6d0e0-29d3-410b-a69a-eb90bface938'"
        ).fetchone()
        assert changed == ("APPROVED", "2025-11-06", CHANGED_STYLE)
        deleted = conn.execute(
            "SELECT style_number, color_name, deleted_at::text FROM ops.tracking_plan_style"
            " WHERE id = %s",
            (DELETED_STYLE,),
        ).fetchone()
        assert deleted == ("MSP26O73", "STINGRAY", "2025-11-06 05:02:56.67679+00")


async def test_ingesting_the_same_payloads_again_changes_nothing(db_url: str) -> None:
    await run_ingest(db_url)
    before = snapshot(db_url)
    counts = await run_ingest(db_url)
    assert counts["duplicate"] == 3
    assert snapshot(db_url) == before


@pytest.mark.parametrize(
    "order",
    [
        ("tracking_ondelete.json", "tracking_oncreate.json", "tracking_onchangetimeline.json"),
        ("tracking_onchangetimeline.json", "tracking_ondelete.json", "tracking_oncreate.json"),
    ],
)
async def test_real_payloads_in_any_order_give_the_same_rows(
    db_url: str, pg_server_url: str, order: tuple[str, ...]
) -> None:
    await run_ingest(db_url, order)
    shuffled = snapshot(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE ops.tracking_timeline_assignment, ops.tracking_plan_style_timeline,"
            " ops.tracking_plan_style, ops.tracking_timeline_template_item, ops.tracking_plan,"
            " ops.tracking_folder, ops.import_errors, ops.beproduct_sync_log CASCADE"
        )
    await run_ingest(db_url)
    assert snapshot(db_url) == shuffled

"""Tolerant reading against a real Postgres: one odd entry never costs the event, and an
OnChange from BeProduct's Edit API (the record, no milestone) updates what it carries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from beproduct_sync import db
from beproduct_sync.apply.ingest import ingest
from beproduct_sync.apply.policy import Policy
from beproduct_sync.testing.fake import Clock, FakeBeProduct, Sizes, World
from beproduct_sync.testing.fake.model import to_ticks
from tests.helpers.samples import load_sample

POLICY = Policy(zone=ZoneInfo("UTC"), max_attempts=3, retry_base_seconds=0.01)
SIZES = Sizes(folders=1, plans=1, styles=3, milestones=4, materials=0, material_milestones=0)


async def ingest_bodies(url: str, tmp_path: Path, bodies: list[Any]) -> dict[str, int]:
    tmp_path.mkdir(exist_ok=True)
    paths = []
    for i, body in enumerate(bodies):
        path = tmp_path / f"{i:03d}.json"
        path.write_text(json.dumps(body))
        paths.append(path)
    async with await db.aconnect(url, autocommit=True) as conn:
        return (await ingest(conn, paths, POLICY)).counts


def rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


async def test_one_bad_assignee_entry_is_a_warning_not_a_dead_event(
    db_url: str, tmp_path: Path
) -> None:
    # Fails before per-entry notes: the event applied, but the null entry left no trace.
    body = load_sample("tracking_oncreate.json")
    body["data"]["after"]["Timelines"][0]["AssignedTo"] = [
        None,
        {"value": "chrisk", "code": "875fe554-cd04-430d-a9a4-f95c27659293"},
    ]
    body["data"]["after"]["Timelines"][1]["ShareWith"] = ["everyone"]
    counts = await ingest_bodies(db_url, tmp_path, [body])
    assert counts["applied"] == 1
    assert rows(db_url, "SELECT count(*) FROM ops.tracking_plan_style_timeline") == [(25,)]
    assert rows(db_url, "SELECT count(*) FROM ops.tracking_timeline_assignment") == [(1,)]
    warnings = rows(
        db_url,
        "SELECT sync_log_id IS NOT NULL, severity, entity_id, message FROM ops.import_errors"
        " ORDER BY message",
    )
    assert [(w[0], w[1]) for w in warnings] == [(True, "warning"), (True, "warning")]
    assert [w[3].split(":")[0] for w in warnings] == [
        "data.after.Timelines[0].AssignedTo[0]",
        "data.after.Timelines[1].ShareWith[0]",
    ]
    assert warnings[0][2] == "73431d54-c2c1-429e-b2f1-2746e4429790"


async def test_an_onchange_without_a_milestone_updates_the_row_in_either_order(
    db_url: str, reference_db_url: str, tmp_path: Path
) -> None:
    # Fails before: the Edit API's OnChange (the record, no TimeLineItem) was dead-lettered.
    world = World(5, SIZES, Clock(start=to_ticks("2025-11-06T08:00:00Z")))
    fake = FakeBeProduct(world=world)
    row = world.rows()[0]
    created = fake.on_create(row)
    edited = fake.on_row_change(fake.edit_row(row.id, size="XL"))
    assert "TimeLineItem" not in edited["data"]["after"]
    in_order = await ingest_bodies(db_url, tmp_path / "a", [created, edited])
    reverse = await ingest_bodies(reference_db_url, tmp_path / "b", [edited, created])
    assert (in_order["applied"], in_order["failed"]) == (2, 0)
    # The older OnCreate still fills what the edit did not carry (the milestones, the raw
    # record, modified time) and loses the size the newer edit set.
    assert reverse["failed"] == 0
    query = (
        "SELECT size, color_name, active, modified_at IS NOT NULL,"
        " (SELECT count(*) FROM ops.tracking_plan_style_timeline) FROM ops.tracking_plan_style"
    )
    expected = [("XL", row.color_name, True, True, SIZES.milestones)]
    assert rows(db_url, query) == expected
    assert rows(reference_db_url, query) == expected

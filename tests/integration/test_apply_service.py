"""Applying claimed batches of events in few transactions: same result as one by one."""

from __future__ import annotations

import dataclasses
import random
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from beproduct_sync import db, migrations
from beproduct_sync.apply.policy import Policy
from beproduct_sync.apply.service import Entry, apply_batch, per_plan
from beproduct_sync.model.body import canonical
from beproduct_sync.model.body import digest as body_digest
from beproduct_sync.model.from_webhook import map_event
from beproduct_sync.model.webhook import parse_event
from beproduct_sync.testing.fault_injection import failing_styles
from tests.helpers.apply import apply_one
from tests.helpers.factories import stream
from tests.helpers.samples import load_case
from tests.helpers.workers import snapshot, store

POLICY = Policy(zone=ZoneInfo("UTC"), max_attempts=3, retry_base_seconds=0.01)


async def entries(url: str, ids: list[int]) -> list[Entry]:
    async with await db.aconnect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT id, payload, body_sha256, attempts FROM ops.beproduct_sync_log"
            " WHERE id = ANY(%s) ORDER BY id",
            (ids,),
        )
        return [Entry(int(i), p, bytes(d), a) for i, p, d, a in await cur.fetchall()]


def statuses(url: str) -> dict[int, str]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT id, status FROM ops.beproduct_sync_log").fetchall())


async def test_a_batch_gives_the_same_rows_as_applying_one_by_one(
    db_url: str, empty_db_url: str
) -> None:
    bodies = list(stream(8))
    random.Random(3).shuffle(bodies)
    ids = await store(db_url, bodies)
    async with await db.aconnect(db_url, autocommit=True) as conn:
        outcomes = await apply_batch(conn, await entries(db_url, ids), POLICY)
    assert [o.log_id for o in outcomes] == ids
    assert {o.status for o in outcomes} <= {"applied", "stale"}

    migrations.migrate(empty_db_url)
    ref_ids = await store(empty_db_url, bodies)
    async with await db.aconnect(empty_db_url, autocommit=True) as conn:
        for e in await entries(empty_db_url, ref_ids):
            await apply_one(conn, e.id, e.payload, e.digest, POLICY)
    assert snapshot(db_url) == snapshot(empty_db_url)


async def test_one_failing_event_fails_alone_and_the_rest_of_the_batch_applies(db_url: str) -> None:
    bodies = list(stream(3, with_samples=False))
    victim = bodies[0]["headerNumber"]
    ids = await store(db_url, bodies)
    policy = dataclasses.replace(POLICY, fault=failing_styles(frozenset({victim})))
    async with await db.aconnect(db_url, autocommit=True) as conn:
        outcomes = await apply_batch(conn, await entries(db_url, ids), policy)
    failed = [o for o in outcomes if o.status == "failed"]
    assert {o.style_number for o in failed} == {victim}
    assert all(o.status in ("applied", "stale") for o in outcomes if o.style_number != victim)
    with psycopg.connect(db_url) as conn:
        errors = conn.execute(
            "SELECT count(*) FROM ops.import_errors WHERE severity = 'error'"
        ).fetchone()
    assert errors == (len(failed),)


async def test_ignored_and_malformed_bodies_in_a_batch_are_settled_with_reasons(
    db_url: str,
) -> None:
    bad = load_case("oncreate_material.json")
    bad["date"] = "not a date"
    ids = await store(
        db_url,
        [load_case("style_attribute_change.json"), bad, load_case("onchange_reassigned.json")],
    )
    async with await db.aconnect(db_url, autocommit=True) as conn:
        outcomes = await apply_batch(conn, await entries(db_url, ids), POLICY)
    assert [o.status for o in outcomes] == ["ignored", "dead", "applied"]
    assert statuses(db_url) == dict(zip(ids, ["ignored", "dead", "applied"], strict=True))


async def test_rows_another_worker_holds_are_skipped_not_applied(db_url: str) -> None:
    ids = await store(db_url, list(stream(1, with_samples=False)))
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE ops.beproduct_sync_log SET status = 'processing',"
            " locked_by = 'someone-else', locked_until = now() + interval '1 minute'"
            " WHERE id = %s",
            (ids[0],),
        )
        conn.execute(
            "UPDATE ops.beproduct_sync_log SET status = 'processing', locked_by = 'me',"
            " locked_until = now() + interval '1 minute' WHERE id <> %s",
            (ids[0],),
        )
    async with await db.aconnect(db_url, autocommit=True) as conn:
        outcomes = await apply_batch(conn, await entries(db_url, ids), POLICY, owner="me")
    assert outcomes[0].status == "skipped"
    assert statuses(db_url)[ids[0]] == "processing"
    assert all(o.status in ("applied", "stale") for o in outcomes[1:])


@pytest.mark.parametrize("size", [1, 7])
async def test_events_of_one_style_in_one_batch_keep_the_newest_state(
    db_url: str, size: int
) -> None:
    change = load_case("onchange_reassigned.json")  # 07:00, assigned to dana
    older: dict[str, Any] = load_case("onchange_status_spelling.json")  # 06:00, chrisk
    ids = await store(db_url, [change, older] * 1)
    async with await db.aconnect(db_url, autocommit=True) as conn:
        all_entries = await entries(db_url, ids)
        for i in range(0, len(all_entries), size):
            await apply_batch(conn, all_entries[i : i + size], POLICY)
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT assignee_name FROM ops.tracking_timeline_assignment"
        ).fetchall() == [("dana",)]
    assert sorted(statuses(db_url).values()) == ["applied", "stale"]


async def test_a_stale_change_is_stale_in_a_batch_even_when_a_neighbour_shares_its_definition(
    db_url: str,
) -> None:
    newer = load_case("onchange_reassigned.json")  # 07:00, style 13c9…
    older = load_case("onchange_status_spelling.json")  # 06:00, same style and milestone
    # Another style of the same plan, changed later, carrying the same milestone definition.
    other: dict[str, Any] = load_case("onchange_reassigned.json")
    other["date"] = "2025-11-06T08:00:00.0000000Z"
    for side in ("before", "after"):
        other["data"][side]["Id"] = "0f0f0f0f-0000-4000-8000-000000000001"
        other["data"][side]["TimeLineItem"]["Id"] = "0f0f0f0f-0000-4000-8000-000000000002"
    other["data"]["timelineId"] = "0f0f0f0f-0000-4000-8000-000000000001"
    first = await store(db_url, [newer])
    async with await db.aconnect(db_url, autocommit=True) as conn:
        await apply_batch(conn, await entries(db_url, first), POLICY)
        ids = await store(db_url, [older, other])
        outcomes = await apply_batch(conn, await entries(db_url, ids), POLICY)
    assert [o.status for o in outcomes] == ["stale", "applied"]


@pytest.mark.parametrize("newer_first", [True, False])
async def test_a_batch_carrying_one_definition_twice_keeps_the_newer_definition(
    db_url: str, newer_first: bool
) -> None:
    newer = load_case("onchange_reassigned.json")  # 07:00
    older: dict[str, Any] = load_case("onchange_status_spelling.json")  # 06:00, same definition
    for side in ("before", "after"):  # another style of the plan, so both share one chunk
        older["data"][side]["Id"] = "0f0f0f0f-0000-4000-8000-000000000001"
        older["data"][side]["TimeLineItem"]["Id"] = "0f0f0f0f-0000-4000-8000-000000000002"
    older["data"]["timelineId"] = "0f0f0f0f-0000-4000-8000-000000000001"
    newer["data"]["timeLineSchema"]["TaskDescription"] = "TECHPACKS (renamed)"
    older["data"]["timeLineSchema"]["TaskDescription"] = "TECHPACKS (old name)"
    ids = await store(db_url, [newer, older] if newer_first else [older, newer])
    async with await db.aconnect(db_url, autocommit=True) as conn:
        outcomes = await apply_batch(conn, await entries(db_url, ids), POLICY)
    assert [o.status for o in outcomes] == ["applied", "applied"]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT name FROM ops.tracking_timeline_template_item").fetchall() == [
            ("TECHPACKS (renamed)",)
        ]


async def test_per_plan_scheduling_takes_the_folder_from_any_event_of_the_plan() -> None:
    without: dict[str, Any] = load_case("onchange_reassigned.json")
    del without["data"]["planFolderId"]
    rowsets = [
        map_event(parse_event(b), body_digest(canonical(b)), ZoneInfo("UTC"))
        for b in (without, load_case("onchange_status_spelling.json"))
    ]
    (merged,) = per_plan(rowsets)
    assert merged.plan["folder_id"] == "136625d5-d9cc-4139-8747-d98b85314676"
    assert merged.folder_ids == ["136625d5-d9cc-4139-8747-d98b85314676"]

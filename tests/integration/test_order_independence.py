"""Property: any permutation of a set of events, with any of them applied more than once, ends
in the same ops tables as applying each once in source-time order."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beproduct_sync import db
from beproduct_sync.apply.service import Entry, Parsed, chunks
from beproduct_sync.apply.writer import apply_many
from beproduct_sync.model.body import canonical
from beproduct_sync.model.body import digest as body_digest
from beproduct_sync.model.from_webhook import map_event
from beproduct_sync.model.webhook import parse_event

STATUSES = [
    "Not Started",
    "In Progress",
    "Approved",
    "Approved with corrections",
    "Rejected",
    "Complete",
    "Waiting On",
    "NA",
    "On Hold",
]
PEOPLE = [(f"user{i}", str(uuid.UUID(int=0xABC0 + i))) for i in range(4)]
PLAN_ID, FOLDER_ID = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
BASE = datetime(2025, 11, 6, tzinfo=UTC)
TABLES = [
    "tracking_folder",
    "tracking_plan",
    "tracking_timeline_template_item",
    "tracking_plan_style",
    "tracking_plan_style_timeline",
    "tracking_timeline_assignment",
]


def stamp(tick: int) -> str:
    t = BASE + timedelta(microseconds=tick // 10)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}{tick % 10}Z"


def milestone(mid: str, tid: str, draw: Any) -> dict[str, Any]:
    day = draw(st.integers(0, 40))
    people = draw(st.lists(st.sampled_from(PEOPLE), max_size=3, unique=True))
    shares = draw(st.lists(st.sampled_from(PEOPLE), max_size=2, unique=True))
    return {
        "Id": mid,
        "TimeLineId": tid,
        "Status": draw(st.sampled_from(STATUSES)),
        "Rev": draw(st.sampled_from([None, stamp(day * 864_000_000_000)])),
        "Final": draw(st.sampled_from([None, stamp((day + 1) * 864_000_000_000 + 7)])),
        "DueDate": stamp(day * 864_000_000_000 + 13),
        "ProjectDate": stamp(day * 864_000_000_000 + 13),
        "AssignedTo": [{"value": n, "code": c} for n, c in people],
        "ShareWith": [{"value": n, "code": c} for n, c in shares],
        "Late": draw(st.booleans()),
        "SubmitsQuantity": draw(st.integers(0, 3)),
    }


def envelope(kind: str, tick: int, number: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "eventType": kind,
        "objectType": "Header",
        "headerId": str(uuid.UUID(int=99)),
        "headerNumber": number,
        "headerName": f"Style {number}",
        "folderId": FOLDER_ID,
        "folderName": "Style",
        "data": {"planId": PLAN_ID, "planFolderId": FOLDER_ID, **data},
        "user": {"id": "u", "userName": "tester"},
        "date": stamp(tick),
    }


def record(rid: str, timelines: list[dict[str, Any]], color: str) -> dict[str, Any]:
    return {
        "Id": rid,
        "PlanId": PLAN_ID,
        "MasterFolder": "Style",
        "HeaderId": str(uuid.UUID(int=99)),
        "Color": {"_id": str(uuid.uuid5(uuid.NAMESPACE_OID, color)), "suggested_name": color},
        "Size": "M",
        "Supplier": [{"name": "ACME"}],
        "Timelines": timelines,
    }


@st.composite
def lifecycles(draw: Any) -> list[dict[str, Any]]:
    """Events of 1-3 styles: optional create, changes, optional delete and re-add."""
    events: list[dict[str, Any]] = []
    tick = 0
    templates = [str(uuid.UUID(int=0x7000 + i)) for i in range(3)]

    def next_tick() -> int:
        nonlocal tick
        step: int = draw(st.sampled_from([0, 1, 10_000_000, 600_000_000]))  # ties happen too
        tick += step
        return tick

    for s in range(draw(st.integers(1, 3))):
        number = f"MSP{s:03d}"
        incarnations = 1 + int(draw(st.booleans()))
        for inc in range(incarnations):
            rid = str(uuid.UUID(int=(s + 1) * 1000 + inc))
            mids = [str(uuid.UUID(int=(s + 1) * 100_000 + inc * 100 + i)) for i in range(3)]
            state = [milestone(m, templates[i], draw) for i, m in enumerate(mids)]
            if inc > 0 or draw(st.booleans()):
                events.append(
                    envelope(
                        "OnCreate",
                        next_tick(),
                        number,
                        {
                            "before": None,
                            "after": record(rid, state, draw(st.sampled_from(["RED", "BLUE"]))),
                            "timelineId": rid,
                        },
                    )
                )
            for _ in range(draw(st.integers(0, 4))):
                i = draw(st.integers(0, 2))
                old, state[i] = state[i], milestone(mids[i], templates[i], draw)
                short = {
                    "Id": rid,
                    "PlanId": PLAN_ID,
                    "MasterFolder": "Style",
                    "HeaderId": str(uuid.UUID(int=99)),
                }
                events.append(
                    envelope(
                        "OnChange",
                        next_tick(),
                        number,
                        {
                            "before": {**short, "TimeLineItem": old},
                            "after": {**short, "TimeLineItem": state[i]},
                            "timeLineSchema": {
                                "Id": templates[i],
                                "TaskDescription": f"STEP {i}",
                                "ShortDescription": draw(st.sampled_from(["a", "b"])),
                                "Department": "DEV",
                            },
                            "timelineId": rid,
                        },
                    )
                )
            if inc < incarnations - 1 or draw(st.booleans()):
                events.append(
                    envelope(
                        "OnDelete",
                        next_tick(),
                        number,
                        {"before": record(rid, state, "RED"), "after": None, "timelineId": rid},
                    )
                )
    return events


async def apply_all(url: str, bodies: list[dict[str, Any]]) -> None:
    zone = ZoneInfo("UTC")
    async with await db.aconnect(url, autocommit=True) as conn:
        for body in bodies:
            rows = map_event(parse_event(body), body_digest(canonical(body)), zone)
            async with conn.transaction():
                await apply_many(conn, [rows])


async def apply_in_batches(url: str, bodies: list[dict[str, Any]], size: int) -> None:
    """Like the workers: many events' rows per statement set, cut where ids repeat."""
    zone = ZoneInfo("UTC")
    items = []
    for body in bodies:
        digest = body_digest(canonical(body))
        event = parse_event(body)
        items.append(Parsed(Entry(0, body, digest), event, map_event(event, digest, zone)))
    async with await db.aconnect(url, autocommit=True) as conn:
        for chunk in chunks(items, limit=size):
            async with conn.transaction():
                await apply_many(conn, [p.rows for p in chunk])


def snapshot(url: str) -> dict[str, list[Any]]:
    out = {}
    with psycopg.connect(url) as conn:
        for t in TABLES:
            cur = conn.execute(f"SELECT * FROM ops.{t} LIMIT 0")
            cols = [
                c.name for c in cur.description or [] if c.name not in ("created_at", "updated_at")
            ]
            out[t] = sorted(
                conn.execute(f"SELECT {', '.join(cols)} FROM ops.{t}").fetchall(), key=repr
            )
    return out


def reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE " + ", ".join(f"ops.{t}" for t in TABLES) + " CASCADE")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), events=lifecycles())
def test_any_order_with_duplicates_matches_source_time_order(
    db_url: str, data: st.DataObject, events: list[dict[str, Any]]
) -> None:
    reset(db_url)
    in_order = sorted(events, key=lambda b: b["date"])
    asyncio.run(apply_all(db_url, in_order))
    expected = snapshot(db_url)

    reset(db_url)
    extra = (
        data.draw(st.lists(st.sampled_from(events), max_size=len(events)), label="duplicates")
        if events
        else []
    )
    shuffled = data.draw(st.permutations(events + extra), label="delivery order")
    asyncio.run(apply_all(db_url, shuffled))
    assert snapshot(db_url) == expected

    reset(db_url)
    size = data.draw(st.integers(1, 12), label="batch size")
    asyncio.run(apply_in_batches(db_url, shuffled, size))
    assert snapshot(db_url) == expected


def test_a_stale_create_never_resurrects_a_deleted_style(db_url: str) -> None:
    rid = str(uuid.UUID(int=1000))
    state = [
        {
            "Id": str(uuid.UUID(int=5)),
            "TimeLineId": str(uuid.UUID(int=6)),
            "Status": "Complete",
            "DueDate": stamp(0),
            "AssignedTo": [],
            "ShareWith": [],
        }
    ]
    create = envelope("OnCreate", 10, "S1", {"after": record(rid, state, "RED"), "timelineId": rid})
    delete = envelope(
        "OnDelete", 20, "S1", {"before": record(rid, state, "RED"), "timelineId": rid}
    )
    asyncio.run(apply_all(db_url, [delete, create]))
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT active, deleted_at IS NOT NULL FROM ops.tracking_plan_style"
        ).fetchall() == [(False, True)]
    later = envelope("OnCreate", 30, "S1", {"after": record(rid, state, "BLUE"), "timelineId": rid})
    asyncio.run(apply_all(db_url, [later]))
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "SELECT active, deleted_at, color_name FROM ops.tracking_plan_style"
        ).fetchall() == [(True, None, "BLUE")]

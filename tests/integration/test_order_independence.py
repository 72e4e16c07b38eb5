"""Property: whatever the delivery order, with duplicate deliveries, replays and API rows
(backfill, reconcile) mixed in, and whether events are applied one by one, in batches or by
several workers at once, the database holds what the independent reference model
(tests/helpers/reference.py) says, and one by one each event reports what the model says
(applied when it wins something, stale when not, a replay is never newer than itself).

The model shares no code with the mapping or the SQL, so a consistent but wrong rule (the
oldest write wins, versions not ordered by time first, a misread offset) fails here.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import AsyncConnection

from beproduct_sync import db
from beproduct_sync.apply.policy import Policy
from beproduct_sync.apply.replay import replay
from beproduct_sync.apply.service import Entry, apply_batch
from beproduct_sync.apply.worker import Worker, WorkerConfig
from beproduct_sync.apply.writer import apply_api_rows
from beproduct_sync.inbox.log import record
from beproduct_sync.inbox.requeue import Selection
from beproduct_sync.model.body import canonical, digest
from beproduct_sync.model.from_rest import map_api_row, retire_row
from beproduct_sync.model.rows import RowSet, source_version
from beproduct_sync.model.times import SourceTime
from tests.helpers.histories import History, histories
from tests.helpers.reference import (
    ASSIGNMENT_TABLE,
    RECORD_TABLE,
    TIMELINE_TABLE,
    Reference,
    Sent,
    Table,
    differences,
)
from tests.helpers.workers import until

ZONE = ZoneInfo("UTC")
POLICY = Policy(zone=ZONE, max_attempts=50, retry_base_seconds=0.01, retry_max_seconds=0.05)
PARENT = {"style": "plan_style_id", "material": "plan_material_id"}
PROPERTY = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
Delivery = tuple[str, int]  # ("send" | "replay", index into History.sent)


def api_rowset(history: History, sent: Sent) -> RowSet:
    """The rows backfill or reconcile would write for an API row (or a retirement)."""
    if sent.source == "retire":
        # As reconcile does: the listing time, no tie-break (32 zero bytes).
        forced = SourceTime(history.reconcile_ticks, "reconcile")
        version = source_version(forced, b"\x00" * 32)
        return retire_row(
            "material" if sent.kind == "material" else "style",
            sent.plan_id,
            sent.record_id,
            version,
            forced.datetime.isoformat(),
        )
    return map_api_row(
        sent.payload,
        plan_id=sent.plan_id,
        folder_id=sent.folder_id,
        kind="material" if sent.kind == "material" else "style",
        zone=ZONE,
        fallback=SourceTime(history.fallback_ticks, "snapshot"),
        # Reconcile's fix: one tick after the row's modifiedAt (or the snapshot), its hash kept.
        force=SourceTime(sent.ticks, "reconcile") if sent.source == "reconcile" else None,
    )


def deliveries(data: st.DataObject, history: History) -> list[Delivery]:
    """Every event once, some again (a duplicate delivery or a replay), in any order."""
    n = len(history.sent)
    again = data.draw(
        st.lists(st.tuples(st.sampled_from(["send", "replay"]), st.integers(0, n - 1)), max_size=n),
        label="again",
    )
    return data.draw(st.permutations([("send", i) for i in range(n)] + again), label="order")


async def reset(url: str) -> None:
    async with await db.aconnect(url, autocommit=True) as conn:
        await conn.execute(
            "TRUNCATE ops.tracking_timeline_assignment, ops.tracking_material_timeline_assignment,"
            " ops.tracking_plan_style_timeline, ops.tracking_plan_material_timeline,"
            " ops.tracking_plan_style, ops.tracking_plan_material,"
            " ops.tracking_timeline_template_item, ops.tracking_plan, ops.tracking_folder,"
            " ops.beproduct_sync_log, ops.import_errors, ops.enrichment_job"
        )


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, Decimal) else value


async def _rows(conn: AsyncConnection[Any], sql: str) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=psycopg.rows.dict_row)
    await cur.execute(sql)
    return [{k: _plain(v) for k, v in r.items()} for r in await cur.fetchall()]


async def tables(url: str) -> dict[str, Table]:
    """The ops tables as the reference model lays them out."""
    out: dict[str, Table] = {}
    async with await db.aconnect(url, autocommit=True) as conn:
        out["tracking_folder"] = {
            r["id"]: {} for r in await _rows(conn, "SELECT id::text FROM ops.tracking_folder")
        }
        out["tracking_plan"] = {
            r.pop("id"): r
            for r in await _rows(
                conn, "SELECT id::text, folder_id::text AS folder_id FROM ops.tracking_plan"
            )
        }
        out["tracking_timeline_template_item"] = {
            r.pop("id"): r
            for r in await _rows(
                conn,
                "SELECT id::text, plan_id::text, master_folder, name, short_name, department,"
                " page_name, raw_payload, source_version FROM ops.tracking_timeline_template_item",
            )
        }
        for kind, parent in PARENT.items():
            out[RECORD_TABLE[kind]] = {
                r.pop("id"): r
                for r in await _rows(
                    conn,
                    "SELECT id::text, plan_id::text, company_id::text, style_header_id::text,"
                    " style_number, style_name, header_folder_id::text, header_folder_name,"
                    " color_id, color_name, color_number, size, supplier_name, suppliers,"
                    " modified_at, modified_by, active, deleted_at, source_updated_at,"
                    " raw_payload, header_version, record_version, color_version,"
                    " size_version, supplier_version, lifecycle_version"
                    f" FROM ops.{RECORD_TABLE[kind]}",
                )
            }
            out[TIMELINE_TABLE[kind]] = {
                r.pop("id"): r
                for r in await _rows(
                    conn,
                    f"SELECT id::text, {parent}::text AS parent_id, template_item_id::text,"
                    " status::text, status_label, plan_date, due_date, rev_date, final_date,"
                    " plan_at, due_at, rev_at, final_at, late, submits_quantity, shared_with,"
                    " assigned_to, source_updated_at, raw_payload, source_version"
                    f" FROM ops.{TIMELINE_TABLE[kind]}",
                )
            }
            out[ASSIGNMENT_TABLE[kind]] = {
                f"{r['timeline_id']}/{r['assignee_id']}": {"assignee_name": r["assignee_name"]}
                for r in await _rows(
                    conn,
                    "SELECT timeline_id::text, assignee_id::text, assignee_name"
                    f" FROM ops.{ASSIGNMENT_TABLE[kind]}",
                )
            }
    return out


async def inbox_statuses(url: str) -> Counter[str]:
    async with await db.aconnect(url, autocommit=True) as conn:
        rows = await _rows(conn, "SELECT status FROM ops.beproduct_sync_log")
    return Counter(r["status"] for r in rows)


async def warnings(url: str) -> Counter[tuple[int | None, str]]:
    """(sync_log_id, entity_id) of every warning; errors must not exist."""
    async with await db.aconnect(url, autocommit=True) as conn:
        rows = await _rows(conn, "SELECT sync_log_id, entity_id, severity FROM ops.import_errors")
    assert [r for r in rows if r["severity"] != "warning"] == []
    return Counter((r["sync_log_id"], r["entity_id"]) for r in rows)


async def store(conn: AsyncConnection[Any], body: dict[str, Any]) -> tuple[int, bool, Any]:
    """Record a body as the receiver does: its inbox id, whether a duplicate, stored payload."""
    async with conn.transaction():
        received = await record(conn, body)
    return received.id, received.duplicate, received.payload


async def one_by_one(url: str, history: History, order: list[Delivery]) -> Reference:
    """Apply each delivery alone and check each outcome and warning against the model."""
    ref = Reference()
    logged: dict[int, int] = {}
    expected_warnings: Counter[tuple[int | None, str]] = Counter()
    async with await db.aconnect(url, autocommit=True) as conn:
        for how, i in order:
            sent = history.sent[i]
            if sent.source != "webhook":
                rows = api_rowset(history, sent)
                source = "backfill" if sent.source == "backfill" else "reconcile"
                async with conn.transaction():
                    result = await apply_api_rows(conn, [rows], source)
                won = ref.apply(sent)
                assert result.changed_by(rows) == won, (sent.source, sent.record_id, won)
                expected_warnings.update((None, n) for n in sent.notices)
                continue
            if i in logged and how == "send":
                log_id, duplicate, _ = await store(conn, sent.payload)
                assert (log_id, duplicate) == (logged[i], True)
                continue
            if i in logged:
                report = await replay(conn, Selection(ids=(logged[i],)), POLICY, now=True)
                [outcome] = report.outcomes
            else:
                log_id, duplicate, payload = await store(conn, sent.payload)
                logged[i] = log_id
                if duplicate:  # another event of the history has the very same body
                    continue
                entry = Entry(log_id, payload, digest(canonical(sent.payload)))
                [outcome] = await apply_batch(conn, [entry], POLICY)
            expected = "applied" if ref.apply(sent) else "stale"
            assert outcome.status == expected, (outcome, sent.payload["eventType"], i)
            expected_warnings.update((logged[i], n) for n in sent.notices)
    assert await warnings(url) == expected_warnings
    return ref


async def in_batches(url: str, history: History, order: list[Delivery], size: int) -> Reference:
    """Apply consecutive webhooks as claimed batches of `size` and consecutive API rows as
    pages (no row twice in one page), like workers and backfill do."""
    ref = Reference()
    async with await db.aconnect(url, autocommit=True) as conn:
        entries: list[Entry] = []
        page: list[Sent] = []

        async def flush() -> None:
            for start in range(0, len(entries), size):
                outcomes = await apply_batch(conn, entries[start : start + size], POLICY)
                assert {o.status for o in outcomes} <= {"applied", "stale"}, outcomes
            entries.clear()
            if page:
                async with conn.transaction():
                    await apply_api_rows(conn, [api_rowset(history, s) for s in page], "backfill")
                page.clear()

        for _, i in order:
            sent = history.sent[i]
            if sent.source == "webhook":
                if page:
                    await flush()
                log_id, duplicate, payload = await store(conn, sent.payload)
                if not duplicate:
                    entries.append(Entry(log_id, payload, digest(canonical(sent.payload))))
            else:
                clash = any((s.kind, s.record_id) == (sent.kind, sent.record_id) for s in page)
                if entries or clash or len(page) >= size:
                    await flush()
                page.append(sent)
            ref.apply(sent)
        await flush()
    return ref


async def by_workers(url: str, history: History, order: list[Delivery], count: int) -> Reference:
    """Store the webhooks, then let `count` worker loops drain them while API rows are written
    from another connection at the same time."""
    ref = Reference()
    api: list[Sent] = []
    async with await db.aconnect(url, autocommit=True) as conn:
        for _, i in order:
            sent = history.sent[i]
            ref.apply(sent)
            if sent.source == "webhook":
                await store(conn, sent.payload)
            else:
                api.append(sent)

    async def write_api_rows() -> None:
        async with await db.aconnect(url, autocommit=True) as conn:
            for sent in api:
                async with conn.transaction():
                    await apply_api_rows(conn, [api_rowset(history, sent)], "reconcile")

    def drained() -> bool:
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM ops.beproduct_sync_log"
                " WHERE status IN ('pending', 'processing', 'failed')"
            ).fetchone()
        return row == (0,)

    config = WorkerConfig(
        batch_size=3, lease_seconds=30, poll_seconds=0.02, listen=False, apply_slice=2
    )
    stop = asyncio.Event()
    loops = [
        asyncio.create_task(Worker(url, POLICY, config, f"w{n}", asyncio.Event()).run(stop))
        for n in range(count)
    ]
    try:
        await write_api_rows()
        await until(drained, timeout=60)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*loops), 30)
    assert set(await inbox_statuses(url)) <= {"applied", "stale"}
    return ref


async def check(url: str, ref: Reference) -> None:
    found = differences(ref.tables(), await tables(url))
    assert not found, "\n".join(found[:40])


@settings(PROPERTY, max_examples=40)
@given(history=histories(), data=st.data())
def test_events_applied_one_by_one_in_any_order_leave_what_the_reference_model_says(
    db_url: str, history: History, data: st.DataObject
) -> None:
    order = deliveries(data, history)

    async def run() -> None:
        await reset(db_url)
        await check(db_url, await one_by_one(db_url, history, order))

    asyncio.run(run())


@settings(PROPERTY, max_examples=25)
@given(history=histories(), data=st.data())
def test_events_applied_in_batches_in_any_order_leave_what_the_reference_model_says(
    db_url: str, history: History, data: st.DataObject
) -> None:
    order = deliveries(data, history)
    size = data.draw(st.integers(1, 8), label="batch size")

    async def run() -> None:
        await reset(db_url)
        await check(db_url, await in_batches(db_url, history, order, size))

    asyncio.run(run())


@settings(PROPERTY, max_examples=8)
@given(history=histories(max_items=2), data=st.data())
def test_events_applied_by_several_workers_at_once_leave_what_the_reference_model_says(
    db_url: str, history: History, data: st.DataObject
) -> None:
    order = deliveries(data, history)

    async def run() -> None:
        await reset(db_url)
        await check(db_url, await by_workers(db_url, history, order, count=3))

    asyncio.run(run())


def test_a_stale_create_never_resurrects_a_deleted_style_and_a_newer_one_does(db_url: str) -> None:
    rid, mid = str(uuid.UUID(int=1000)), str(uuid.UUID(int=5))
    milestone = {"Id": mid, "TimeLineId": str(uuid.UUID(int=6)), "Status": "Complete"}

    def body(kind: str, when: str, color: str) -> dict[str, Any]:
        rec = {
            "Id": rid,
            "PlanId": str(uuid.UUID(int=1)),
            "MasterFolder": "Style",
            "Color": {"_id": str(uuid.UUID(int=7)), "suggested_name": color},
            "Timelines": [milestone],
        }
        return {
            "eventType": kind,
            "headerId": str(uuid.UUID(int=99)),
            "headerNumber": "S1",
            "data": {
                "planId": str(uuid.UUID(int=1)),
                "before": rec if kind == "OnDelete" else None,
                "after": None if kind == "OnDelete" else rec,
            },
            "date": when,
        }

    async def apply(bodies: list[dict[str, Any]]) -> list[str]:
        out: list[str] = []
        async with await db.aconnect(db_url, autocommit=True) as conn:
            for b in bodies:
                log_id, _, payload = await store(conn, b)
                entry = Entry(log_id, payload, digest(canonical(b)))
                out.extend(o.status for o in await apply_batch(conn, [entry], POLICY))
        return out

    def state() -> list[tuple[Any, ...]]:
        with psycopg.connect(db_url) as conn:
            return conn.execute(
                "SELECT active, deleted_at, color_name FROM ops.tracking_plan_style"
            ).fetchall()

    delete = body("OnDelete", "2025-11-06T10:00:00+05:30", "RED")  # 04:30 UTC
    create = body("OnCreate", "2025-11-06T04:29:59.9999999Z", "RED")
    assert asyncio.run(apply([delete, create])) == ["applied", "stale"]
    assert state() == [(False, datetime(2025, 11, 6, 4, 30, tzinfo=UTC), "RED")]
    later = body("OnCreate", "2025-11-06T04:30:00.0000001Z", "BLUE")
    assert asyncio.run(apply([later])) == ["applied"]
    assert state() == [(True, None, "BLUE")]

"""Every column the mapping writes, read back from Postgres and compared with values worked
out by hand (never computed by the code under test): timestamps with UTC offsets that have
minutes (+05:30, -03:30, +05:45, -09:30), the calendar days they fall on in UTC and in other
zones, replays that must be stale, and which statuses warn."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.rows import dict_row

from beproduct_sync import db
from beproduct_sync.apply.policy import Policy
from beproduct_sync.apply.replay import replay
from beproduct_sync.apply.service import Entry, apply_batch
from beproduct_sync.apply.writer import apply_api_rows
from beproduct_sync.inbox.log import record
from beproduct_sync.inbox.requeue import Selection
from beproduct_sync.model.body import canonical, digest
from beproduct_sync.model.from_rest import map_api_row
from beproduct_sync.model.times import SourceTime
from tests.helpers.reference import tie_break

PLAN = "4b7d6906-1413-44bb-bcdd-47b7f9cc5643"
PLAN_FOLDER = "136625d5-d9cc-4139-8747-d98b85314676"
COMPANY = "0ea6759e-1240-4608-bcc0-da76565ced21"
RECORD = "b9f9d07f-7edf-496d-80c6-d51b57a3052b"
HEADER = "0972758d-5fd7-442c-943f-c1195a26d108"
STYLE_FOLDER = "66f377be-d3d6-4e42-b50a-b46f4e156191"
M1, M2 = "73431d54-c2c1-429e-b2f1-2746e4429790", "9dbbd8e5-a8bd-4a4c-8b8e-1f3cf80e9f1a"
T1, T2 = "fbf37368-6c6a-47f5-a1b7-4a32cdca6ea3", "8b7e5d0c-52f3-4f0c-9d0e-7a4b4c1f0b11"
CHRISK, DANA = "875fe554-cd04-430d-a9a4-f95c27659293", "2f7c1f4e-9a41-4a59-8f0c-3c1d8f0e6a55"
# 2025-11-06T01:52:06.2802695Z: the event time in 100-ns ticks since 1970.
EVENT_TICKS = 17623939262802695
UTC_POLICY = Policy(zone=ZoneInfo("UTC"), max_attempts=3, retry_base_seconds=0.01)


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    """A UTC instant."""
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def milestone_one() -> dict[str, Any]:
    return {
        "Id": M1,
        "TimeLineId": T1,
        "Status": "Approved with Corrections",
        "ProjectDate": "2025-11-06T05:29:59.9999999+05:30",  # 2025-11-05T23:59:59.9999999Z
        "DueDate": "2025-11-05T20:30:00-03:30",  # 2025-11-06T00:00:00Z
        "Rev": "2025-11-06T18:15:00+05:45",  # 2025-11-06T12:30:00Z
        "Final": "2025-11-06T14:30:00.5-09:30",  # 2025-11-07T00:00:00.5Z
        "AssignedTo": [
            {"value": "chrisk", "code": CHRISK},
            {"value": "ghost", "code": "not-a-user-id"},
        ],
        "ShareWith": [{"value": "dana", "code": DANA}],
        "Late": True,
        "SubmitsQuantity": 2,
    }


def milestone_two() -> dict[str, Any]:
    return {
        "Id": M2,
        "TimeLineId": T2,
        "Status": "N/A",
        "ProjectDate": None,
        "DueDate": "2025-11-06",  # a plain date: midnight UTC
        "Rev": None,
        "Final": None,
        "AssignedTo": [],
        "ShareWith": [],
        "Late": False,
        "SubmitsQuantity": 0,
    }


def full_record() -> dict[str, Any]:
    return {
        "Id": RECORD,
        "PlanId": PLAN,
        "CompanyId": COMPANY,
        "MasterFolder": "Style",
        "HeaderId": HEADER,
        "Color": {
            "_id": "52e8403c-7084-432c-a423-452924063016",
            "color_source_id": None,
            "suggested_name": "STINGRAY",
            "suggested_hex": "030",
        },
        "Size": "NA",
        "Supplier": [{"Name": "Knit Co", "Id": "k1"}, {"name": "ACME"}],
        "ModifiedAt": "2025-11-05T22:22:05.0709203-03:30",  # 2025-11-06T01:52:05.0709203Z
        "ModifiedBy": {"user_id": "ace65e9d-a533-4141-b84e-45d07033b244", "user_name": "Nat"},
        "Timelines": [milestone_one(), milestone_two()],
        "Order": 2,
        "MarkedForDelete": False,
    }


def envelope(event_type: str, date_text: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "subscriptionId": None,
        "eventType": event_type,
        "objectType": "Header",
        "headerId": HEADER,
        "headerNumber": "MSP26O73",
        "headerName": "Trailwolf Vest",
        "folderId": STYLE_FOLDER,
        "folderName": "Style",
        "data": {"planId": PLAN, "planFolderId": PLAN_FOLDER, "timelineId": RECORD, **data},
        "user": {"id": "ace65e9d-a533-4141-b84e-45d07033b244", "userName": "Nat"},
        "date": date_text,
    }


def oncreate() -> dict[str, Any]:
    # 07:22:06.2802695 at +05:30 is 01:52:06.2802695Z (EVENT_TICKS).
    data = {"before": None, "after": full_record()}
    return envelope("OnCreate", "2025-11-06T07:22:06.2802695+05:30", data)


async def apply(url: str, body: dict[str, Any], policy: Policy = UTC_POLICY) -> tuple[int, str]:
    """Store and apply one webhook body; its inbox id and outcome."""
    async with await db.aconnect(url, autocommit=True) as conn:
        async with conn.transaction():
            received = await record(conn, body)
        entry = Entry(received.id, received.payload, digest(canonical(body)))
        [outcome] = await apply_batch(conn, [entry], policy)
    return received.id, outcome.status


def rows(url: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()


def style_row(url: str) -> dict[str, Any]:
    [row] = rows(
        url,
        "SELECT id::text, plan_id::text, company_id::text, style_header_id::text, style_number,"
        " style_name, header_folder_id::text, header_folder_name, color_id, color_name,"
        " color_number, size, supplier_name, suppliers, modified_at, modified_by, active,"
        " deleted_at, source_updated_at, raw_payload, header_version, record_version,"
        " color_version, size_version, supplier_version, lifecycle_version"
        " FROM ops.tracking_plan_style",
    )
    return row


def milestone_rows(url: str, table: str = "tracking_plan_style_timeline") -> list[dict[str, Any]]:
    parent = "plan_material_id" if "material" in table else "plan_style_id"
    return rows(
        url,
        f"SELECT id::text, {parent}::text AS parent, template_item_id::text, status::text,"
        " status_label, plan_date, due_date, rev_date, final_date, plan_at, due_at, rev_at,"
        " final_at, late, submits_quantity, shared_with, assigned_to, source_updated_at,"
        f" raw_payload, source_version FROM ops.{table} ORDER BY id",
    )


def version(ticks: int, body: Any) -> Decimal:
    return Decimal(ticks * 1_000_000 + tie_break(body))


async def test_every_column_an_oncreate_writes_has_its_exact_value(db_url: str) -> None:
    body = oncreate()
    log_id, status = await apply(db_url, body)
    assert status == "applied"
    v = version(EVENT_TICKS, body)
    event_at = at(2025, 11, 6, 1, 52, 6, 280269)
    raw_record = {k: val for k, val in full_record().items() if k != "Timelines"}
    assert style_row(db_url) == {
        "id": RECORD,
        "plan_id": PLAN,
        "company_id": COMPANY,
        "style_header_id": HEADER,
        "style_number": "MSP26O73",
        "style_name": "Trailwolf Vest",
        "header_folder_id": STYLE_FOLDER,
        "header_folder_name": "Style",
        "color_id": "52e8403c-7084-432c-a423-452924063016",
        "color_name": "STINGRAY",
        "color_number": "030",
        "size": "NA",
        "supplier_name": "Knit Co, ACME",
        "suppliers": [{"Name": "Knit Co", "Id": "k1"}, {"name": "ACME"}],
        "modified_at": at(2025, 11, 6, 1, 52, 5, 70920),
        "modified_by": "Nat",
        "active": True,
        "deleted_at": None,
        "source_updated_at": event_at,
        "raw_payload": raw_record,
        "header_version": v,
        "record_version": v,
        "color_version": v,
        "size_version": v,
        "supplier_version": v,
        "lifecycle_version": v,
    }
    assert milestone_rows(db_url) == [
        {
            "id": M1,
            "parent": RECORD,
            "template_item_id": T1,
            "status": "APPROVED_WITH_CORRECTIONS",
            "status_label": "Approved with Corrections",
            "plan_date": date(2025, 11, 5),
            "due_date": date(2025, 11, 6),
            "rev_date": date(2025, 11, 6),
            "final_date": date(2025, 11, 7),
            "plan_at": at(2025, 11, 5, 23, 59, 59, 999999),
            "due_at": at(2025, 11, 6),
            "rev_at": at(2025, 11, 6, 12, 30),
            "final_at": at(2025, 11, 7, 0, 0, 0, 500000),
            "late": True,
            "submits_quantity": 2,
            "shared_with": [{"value": "dana", "code": DANA}],
            "assigned_to": [
                {"value": "chrisk", "code": CHRISK},
                {"value": "ghost", "code": "not-a-user-id"},
            ],
            "source_updated_at": event_at,
            "raw_payload": milestone_one(),
            "source_version": v,
        },
        {
            "id": M2,
            "parent": RECORD,
            "template_item_id": T2,
            "status": "NA",
            "status_label": "N/A",
            "plan_date": None,
            "due_date": date(2025, 11, 6),
            "rev_date": None,
            "final_date": None,
            "plan_at": None,
            "due_at": at(2025, 11, 6),
            "rev_at": None,
            "final_at": None,
            "late": False,
            "submits_quantity": 0,
            "shared_with": [],
            "assigned_to": [],
            "source_updated_at": event_at,
            "raw_payload": milestone_two(),
            "source_version": v,
        },
    ]
    assert rows(
        db_url,
        "SELECT timeline_id::text, assignee_id::text, assignee_name"
        " FROM ops.tracking_timeline_assignment",
    ) == [{"timeline_id": M1, "assignee_id": CHRISK, "assignee_name": "chrisk"}]
    assert rows(
        db_url,
        "SELECT id::text, plan_id::text, master_folder, name, short_name, department,"
        " page_name, raw_payload, source_version FROM ops.tracking_timeline_template_item"
        " ORDER BY id",
    ) == [
        {
            "id": t,
            "plan_id": PLAN,
            "master_folder": "Style",
            "name": None,
            "short_name": None,
            "department": None,
            "page_name": None,
            "raw_payload": None,
            "source_version": None,
        }
        for t in sorted([T1, T2])
    ]
    assert rows(db_url, "SELECT id::text, folder_id::text FROM ops.tracking_plan") == [
        {"id": PLAN, "folder_id": PLAN_FOLDER}
    ]
    assert rows(db_url, "SELECT id::text FROM ops.tracking_folder") == [{"id": PLAN_FOLDER}]
    assert rows(
        db_url,
        "SELECT sync_log_id, entity_type, entity_id, severity, message FROM ops.import_errors",
    ) == [
        {
            "sync_log_id": log_id,
            "entity_type": "tracking",
            "entity_id": M1,
            "severity": "warning",
            "message": "assignee 'ghost' has no valid user id",
        }
    ]


async def test_calendar_days_follow_the_configured_zone_while_instants_stay_exact(
    db_url: str,
) -> None:
    kolkata = Policy(zone=ZoneInfo("Asia/Kolkata"))  # +05:30
    await apply(db_url, oncreate(), kolkata)
    [one, two] = milestone_rows(db_url)
    assert (one["id"], two["id"]) == (M1, M2)
    assert [one[f"{k}_date"] for k in ("plan", "due", "rev", "final")] == [
        date(2025, 11, 6),  # 23:59:59.9999999Z is 05:29:59 the next day in Kolkata
        date(2025, 11, 6),
        date(2025, 11, 6),
        date(2025, 11, 7),
    ]
    assert (one["plan_at"], one["final_at"]) == (
        at(2025, 11, 5, 23, 59, 59, 999999),
        at(2025, 11, 7, 0, 0, 0, 500000),
    )


async def test_explicit_offsets_are_dated_in_a_zone_behind_utc_by_hours_and_minutes(
    db_url: str,
) -> None:
    st_johns = Policy(zone=ZoneInfo("America/St_Johns"))  # -03:30 in November
    await apply(db_url, oncreate(), st_johns)
    [one, two] = milestone_rows(db_url)
    assert [one[f"{k}_date"] for k in ("plan", "due", "rev", "final")] == [
        date(2025, 11, 5),
        date(2025, 11, 5),  # 00:00Z is 20:30 the day before
        date(2025, 11, 6),
        date(2025, 11, 6),  # 2025-11-07T00:00:00.5Z is 20:30 on the 6th
    ]
    # A plain date (like a Z-labelled one) is the date BeProduct wrote, whatever the zone.
    assert two["due_date"] == date(2025, 11, 6)


def onchange(status: str | None, when: str = "2025-11-06T10:40:01.0603486+05:30") -> dict[str, Any]:
    item = {
        "Id": M1,
        "TimeLineId": T1,
        "Status": status,
        "Rev": None,
        "Final": "2025-11-06T15:09:56Z",
        "DueDate": "2025-11-05T15:09:06Z",
        "ProjectDate": "2025-11-05T15:09:06Z",
        "AssignedTo": [{"value": "dana", "code": DANA}],
        "ShareWith": [],
        "Late": False,
        "SubmitsQuantity": 1,
    }
    short = {
        "Id": RECORD,
        "PlanId": PLAN,
        "CompanyId": COMPANY,
        "MasterFolder": "Style",
        "HeaderId": HEADER,
    }
    schema = {
        "Id": T1,
        "Department": "PRE-PRODUCTION | CUSTOMER",
        "TaskDescription": "TECHPACKS PASS OFF",
        "ShortDescription": "TP OFF",
        "Page": {"name": "Tech Pack"},
        "LinkFolder": "Style",
        "Days": 0,
    }
    data = {
        "before": {**short, "TimeLineItem": {**item, "Status": "In Progress"}},
        "after": {**short, "TimeLineItem": item},
        "timeLineSchema": schema,
    }
    return envelope("OnChange", when, data)


async def test_every_column_an_onchange_for_an_unknown_style_writes_has_its_exact_value(
    db_url: str,
) -> None:
    body = onchange("Approved")
    _, status = await apply(db_url, body)
    assert status == "applied"
    ticks = 17624058010603486  # 05:10:01.0603486Z
    v = version(ticks, body)
    when = at(2025, 11, 6, 5, 10, 1, 60348)
    short = {k: val for k, val in body["data"]["after"].items() if k != "TimeLineItem"}
    assert style_row(db_url) == {
        "id": RECORD,
        "plan_id": PLAN,
        "company_id": COMPANY,
        "style_header_id": HEADER,
        "style_number": "MSP26O73",
        "style_name": "Trailwolf Vest",
        "header_folder_id": STYLE_FOLDER,
        "header_folder_name": "Style",
        **dict.fromkeys(
            (
                "color_id",
                "color_name",
                "color_number",
                "size",
                "supplier_name",
                "suppliers",
                "modified_at",
                "modified_by",
            )
        ),
        "active": True,
        "deleted_at": None,
        "source_updated_at": when,
        "raw_payload": short,
        "header_version": v,
        "record_version": None,
        "color_version": None,
        "size_version": None,
        "supplier_version": None,
        "lifecycle_version": None,
    }
    [m] = milestone_rows(db_url)
    assert m == {
        "id": M1,
        "parent": RECORD,
        "template_item_id": T1,
        "status": "APPROVED",
        "status_label": "Approved",
        "plan_date": date(2025, 11, 5),
        "due_date": date(2025, 11, 5),
        "rev_date": None,
        "final_date": date(2025, 11, 6),
        "plan_at": at(2025, 11, 5, 15, 9, 6),
        "due_at": at(2025, 11, 5, 15, 9, 6),
        "rev_at": None,
        "final_at": at(2025, 11, 6, 15, 9, 56),
        "late": False,
        "submits_quantity": 1,
        "shared_with": [],
        "assigned_to": [{"value": "dana", "code": DANA}],
        "source_updated_at": when,
        "raw_payload": body["data"]["after"]["TimeLineItem"],
        "source_version": v,
    }
    assert rows(
        db_url,
        "SELECT id::text, plan_id::text, master_folder, name, short_name, department,"
        " page_name, raw_payload, source_version FROM ops.tracking_timeline_template_item",
    ) == [
        {
            "id": T1,
            "plan_id": PLAN,
            "master_folder": "Style",
            "name": "TECHPACKS PASS OFF",
            "short_name": "TP OFF",
            "department": "PRE-PRODUCTION | CUSTOMER",
            "page_name": "Tech Pack",
            "raw_payload": body["data"]["timeLineSchema"],
            "source_version": v,
        }
    ]


async def test_an_ondelete_records_the_exact_deletion_time_and_its_record(db_url: str) -> None:
    await apply(db_url, oncreate())
    before = full_record()
    before["Size"] = "XL"
    before["Timelines"][1]["Status"] = "Complete"
    # 05:02:56.6767908Z, written at -09:30.
    body = envelope(
        "OnDelete", "2025-11-05T19:32:56.6767908-09:30", {"before": before, "after": None}
    )
    _, status = await apply(db_url, body)
    assert status == "applied"
    v = version(17624053766767908, body)
    row = style_row(db_url)
    assert (row["active"], row["deleted_at"], row["size"]) == (
        False,
        at(2025, 11, 6, 5, 2, 56, 676790),
        "XL",
    )
    versions = ("header", "record", "color", "size", "supplier", "lifecycle")
    assert [row[f"{g}_version"] for g in versions] == [v] * len(versions)
    assert row["source_updated_at"] == at(2025, 11, 6, 5, 2, 56, 676790)
    assert [(m["id"], m["status"], m["source_version"]) for m in milestone_rows(db_url)] == [
        (M1, "APPROVED_WITH_CORRECTIONS", v),
        (M2, "COMPLETE", v),
    ]


def api_row() -> dict[str, Any]:
    return {
        "id": RECORD,
        "colorId": "c0ffee00-0000-4000-8000-000000000001",
        "colorNumber": 17,
        "colorName": "BLACK",
        "size": "L",
        "supplier": {"id": "5a", "name": "ACME"},
        "suppliers": [],
        "modifiedAt": "2025-11-06T07:22:06.1+05:30",  # 01:52:06.1Z
        "modifiedBy": {"id": "b1", "name": "api.user"},
        "header": {
            "id": HEADER,
            "headerNumber": "MSP26O73",
            "headerName": "Trailwolf Vest",
            "folder": {"id": STYLE_FOLDER, "name": "Style"},
        },
        "timelines": [
            {
                "id": M1,
                "timelineId": T1,
                "status": "Approved with Corrections",
                "plan": "2025-11-05T20:30:00-03:30",
                "due": "2025-11-06T05:29:59.9999999+05:30",
                "rev": None,
                "final": "2025-11-06T14:30:00.5-09:30",
                "assignedTo": [{"id": CHRISK, "name": "chrisk"}],
                "shareWith": [{"id": DANA, "name": "dana", "partnerType": "Vendor"}],
                "late": True,
                "submitsQuantity": 3,
                "page": None,
            }
        ],
        "isArchived": False,
    }


async def test_every_column_an_api_row_writes_has_its_exact_value(db_url: str) -> None:
    row = api_row()
    rowset = map_api_row(
        row,
        plan_id=PLAN,
        folder_id=PLAN_FOLDER,
        kind="style",
        zone=ZoneInfo("UTC"),
        fallback=SourceTime(0, "unused"),
    )
    async with await db.aconnect(db_url, autocommit=True) as conn, conn.transaction():
        result = await apply_api_rows(conn, [rowset], "backfill")
    assert result.changed_by(rowset)
    v = version(17623939261000000, row)
    when = at(2025, 11, 6, 1, 52, 6, 100000)
    assert style_row(db_url) == {
        "id": RECORD,
        "plan_id": PLAN,
        "company_id": None,
        "style_header_id": HEADER,
        "style_number": "MSP26O73",
        "style_name": "Trailwolf Vest",
        "header_folder_id": STYLE_FOLDER,
        "header_folder_name": "Style",
        "color_id": "c0ffee00-0000-4000-8000-000000000001",
        "color_name": "BLACK",
        "color_number": "17",
        "size": "L",
        "supplier_name": "ACME",
        "suppliers": [{"id": "5a", "name": "ACME"}],
        "modified_at": when,
        "modified_by": "api.user",
        "active": True,
        "deleted_at": None,
        "source_updated_at": when,
        "raw_payload": {k: val for k, val in row.items() if k != "timelines"},
        "header_version": v,
        "record_version": v,
        "color_version": v,
        "size_version": v,
        "supplier_version": v,
        "lifecycle_version": v,
    }
    assert milestone_rows(db_url) == [
        {
            "id": M1,
            "parent": RECORD,
            "template_item_id": T1,
            "status": "APPROVED_WITH_CORRECTIONS",
            "status_label": "Approved with Corrections",
            "plan_date": date(2025, 11, 6),
            "due_date": date(2025, 11, 5),
            "rev_date": None,
            "final_date": date(2025, 11, 7),
            "plan_at": at(2025, 11, 6),
            "due_at": at(2025, 11, 5, 23, 59, 59, 999999),
            "rev_at": None,
            "final_at": at(2025, 11, 7, 0, 0, 0, 500000),
            "late": True,
            "submits_quantity": 3,
            "shared_with": [{"value": "dana", "code": DANA}],
            "assigned_to": [{"value": "chrisk", "code": CHRISK}],
            "source_updated_at": when,
            "raw_payload": row["timelines"][0],
            "source_version": v,
        }
    ]
    assert rows(
        db_url,
        "SELECT timeline_id::text, assignee_id::text, assignee_name"
        " FROM ops.tracking_timeline_assignment",
    ) == [{"timeline_id": M1, "assignee_id": CHRISK, "assignee_name": "chrisk"}]


def everything(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every ops row, bookkeeping timestamps included: a write that changes nothing still
    moves updated_at."""
    tables = [
        "tracking_plan_style",
        "tracking_plan_style_timeline",
        "tracking_timeline_assignment",
        "tracking_timeline_template_item",
    ]
    return {t: rows(url, f"SELECT * FROM ops.{t} ORDER BY 1, 2") for t in tables}


async def test_a_replayed_event_is_stale_and_writes_nothing(db_url: str) -> None:
    ids = []
    for body in (oncreate(), onchange("Rejected", "2025-11-06T12:00:00+05:30")):
        log_id, status = await apply(db_url, body)
        assert status == "applied"
        ids.append(log_id)
    before = everything(db_url)
    async with await db.aconnect(db_url, autocommit=True) as conn:
        for log_id in ids:
            report = await replay(conn, Selection(ids=(log_id,)), UTC_POLICY, now=True)
            # The same version again is not newer: nothing to write, so stale.
            assert [o.status for o in report.outcomes] == ["stale"]
    assert everything(db_url) == before


SHORT_RECORD = {
    "Id": RECORD,
    "PlanId": PLAN,
    "CompanyId": COMPANY,
    "MasterFolder": "Style",
    "HeaderId": HEADER,
}


def row_edit(date_text: str, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """An OnChange from BeProduct's Edit API: the record's own fields, no TimeLineItem."""
    data = {"before": {**SHORT_RECORD, **before}, "after": {**SHORT_RECORD, **after}}
    return envelope("OnChange", date_text, data)


@pytest.mark.parametrize("create_first", [True, False], ids=["create-first", "create-last"])
async def test_a_row_edit_wins_only_the_fields_it_carries_whatever_the_order(
    db_url: str, create_first: bool
) -> None:
    create = oncreate()  # 01:52:06.2802695Z
    black = {
        "_id": "c0ffee00-0000-4000-8000-000000000001",
        "color_source_id": None,
        "suggested_name": "BLACK",
        "suggested_hex": "001",
    }
    # One second after the create: a new size and colourway (no supplier, no milestone).
    newer = row_edit(
        "2025-11-06T07:22:07.2802695+05:30",
        {"Size": "NA", "Color": full_record()["Color"]},
        {"Size": "XL", "Color": black},
    )
    # 0.2802695 s before the create: a supplier the create's own record replaces.
    older = row_edit("2025-11-06T01:52:06Z", {"Supplier": []}, {"Supplier": [{"name": "Old Mill"}]})
    bodies = [create, newer, older] if create_first else [older, newer, create]
    statuses = [(await apply(db_url, body))[1] for body in bodies]
    assert statuses == (["applied", "applied", "stale"] if create_first else ["applied"] * 3)
    [row] = rows(
        db_url,
        "SELECT color_id, color_name, color_number, size, supplier_name, suppliers, modified_at,"
        " modified_by, active, source_updated_at, raw_payload, header_version, record_version,"
        " color_version, size_version, supplier_version, lifecycle_version"
        " FROM ops.tracking_plan_style",
    )
    v_create, v_newer = version(EVENT_TICKS, create), version(EVENT_TICKS + 10_000_000, newer)
    assert row == {
        "color_id": "c0ffee00-0000-4000-8000-000000000001",
        "color_name": "BLACK",
        "color_number": "001",
        "size": "XL",
        "supplier_name": "Knit Co, ACME",
        "suppliers": [{"Name": "Knit Co", "Id": "k1"}, {"name": "ACME"}],
        "modified_at": at(2025, 11, 6, 1, 52, 5, 70920),
        "modified_by": "Nat",
        "active": True,
        "source_updated_at": at(2025, 11, 6, 1, 52, 7, 280269),
        "raw_payload": {k: v for k, v in full_record().items() if k != "Timelines"},
        "header_version": v_newer,
        "record_version": v_create,
        "color_version": v_newer,
        "size_version": v_newer,
        "supplier_version": v_create,
        "lifecycle_version": v_create,
    }


async def test_a_placeholder_keeps_the_newest_onchange_record_until_a_create_replaces_it(
    db_url: str,
) -> None:
    # A style first seen through OnChanges: its raw record is the newest one's (no event has
    # sent the whole record yet), then the create's, even an older create.
    older = row_edit("2025-11-06T01:52:07Z", {"Size": "NA"}, {"Size": "M"})
    newer = row_edit("2025-11-06T01:52:08Z", {"Size": "M"}, {"Size": "XL"})
    query = "SELECT size, raw_payload, record_version FROM ops.tracking_plan_style"
    assert [(await apply(db_url, body))[1] for body in (older, newer)] == ["applied"] * 2
    assert rows(db_url, query) == [
        {"size": "XL", "raw_payload": {**SHORT_RECORD, "Size": "XL"}, "record_version": None}
    ]
    create = oncreate()  # 01:52:06.2802695Z, before both
    assert (await apply(db_url, create))[1] == "applied"
    assert rows(db_url, query) == [
        {
            "size": "XL",
            "raw_payload": {k: v for k, v in full_record().items() if k != "Timelines"},
            "record_version": version(EVENT_TICKS, create),
        }
    ]


async def test_an_api_row_written_twice_changes_nothing_the_second_time(db_url: str) -> None:
    rowset = map_api_row(
        api_row(),
        plan_id=PLAN,
        folder_id=PLAN_FOLDER,
        kind="style",
        zone=ZoneInfo("UTC"),
        fallback=SourceTime(0, "unused"),
    )
    async with await db.aconnect(db_url, autocommit=True) as conn:
        async with conn.transaction():
            assert (await apply_api_rows(conn, [rowset], "backfill")).changed
        before = everything(db_url)
        async with conn.transaction():
            assert not (await apply_api_rows(conn, [rowset], "backfill")).changed
    assert everything(db_url) == before


async def test_an_unknown_status_warns_once_and_an_empty_status_never_warns(db_url: str) -> None:
    outcomes = []
    for n, label in enumerate(["", "   ", None, "On Hold", "Complete"]):
        # One minute apart, each newer: each is applied.
        body = onchange(label, f"2025-11-06T10:4{n}:00+05:30")
        body["data"]["after"]["TimeLineItem"]["AssignedTo"] = []
        outcomes.append(await apply(db_url, body))
    assert [status for _, status in outcomes] == ["applied"] * 5
    assert rows(
        db_url, "SELECT sync_log_id, entity_id, severity, message FROM ops.import_errors"
    ) == [
        {
            "sync_log_id": outcomes[3][0],
            "entity_id": M1,
            "severity": "warning",
            "message": "unknown status 'On Hold' kept as status_label; status NULL",
        }
    ]


async def test_an_api_row_with_an_unknown_status_stores_its_warning_and_an_empty_one_none(
    db_url: str,
) -> None:
    row = api_row()
    unknown = copy.deepcopy(row["timelines"][0])
    row["timelines"][0]["status"] = ""
    unknown.update(id=M2, timelineId=T2, status="Paused")
    row["timelines"].append(unknown)
    rowset = map_api_row(
        row,
        plan_id=PLAN,
        folder_id=None,
        kind="style",
        zone=ZoneInfo("UTC"),
        fallback=SourceTime(0, "unused"),
    )
    async with await db.aconnect(db_url, autocommit=True) as conn, conn.transaction():
        await apply_api_rows(conn, [rowset], "reconcile")
    assert rows(
        db_url,
        "SELECT sync_log_id, entity_type, entity_id, severity, message FROM ops.import_errors",
    ) == [
        {
            "sync_log_id": None,
            "entity_type": "tracking",
            "entity_id": M2,
            "severity": "warning",
            "message": "unknown status 'Paused' kept as status_label; status NULL (from reconcile)",
        }
    ]
    assert [(m["id"], m["status"], m["status_label"]) for m in milestone_rows(db_url)] == sorted(
        [(M1, None, None), (M2, None, "Paused")]
    )

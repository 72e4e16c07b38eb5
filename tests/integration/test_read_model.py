"""The read model (ops_api) on the real samples and on a hand-checked plan."""

from __future__ import annotations

import copy
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from beproduct_sync import db
from beproduct_sync.apply.ingest import ingest
from beproduct_sync.apply.policy import Policy
from tests.helpers import schedule
from tests.helpers.samples import SAMPLE_NAMES, load_sample, sample_path

D = dt.date.fromisoformat
CHANGED_STYLE = "13c9c307-0f6a-4241-ab8f-cb31d0dc444d"
DELETED_STYLE = "b9f9d07f-7edf-496d-80c6-d51b57a3052b"
TECHPACKS = "fbf37368-6c6a-47f5-a1b7-4a32cdca6ea3"


def fetch(url: str, sql: str, *params: Any, today: str | None = None) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        if today:
            conn.execute("SELECT set_config('ops_api.today', %s, false)", (today,))
        return conn.execute(sql, params).fetchall()


async def load_samples(url: str) -> None:
    async with await db.aconnect(url, autocommit=True) as conn:
        await ingest(conn, [sample_path(n) for n in SAMPLE_NAMES], Policy(zone=ZoneInfo("UTC")))


async def test_the_real_onchange_stores_its_schedule_rule_as_columns(db_url: str) -> None:
    await load_samples(db_url)
    [rule] = fetch(
        db_url,
        "SELECT days, direction, act_desc::text, calendar, calendar_days, revised_days, group_task,"
        " share_when, default_status, rule_version IS NOT NULL AS known, anchor_id,"
        " rule_problem FROM ops.tracking_timeline_template_item WHERE id = %s",
        TECHPACKS,
    )
    assert rule == {
        "days": 0,
        "direction": "AFTER",
        "act_desc": "00000000-0000-0000-0000-000000000000",
        "calendar": "DAYS",
        "calendar_days": 0,
        "revised_days": 0,
        "group_task": "NORMAL",
        "share_when": "ANY",
        "default_status": "Not Started",
        "known": True,
        "anchor_id": None,
        "rule_problem": None,
    }


async def test_techpacks_pass_off_is_zero_days_after_the_start(db_url: str) -> None:
    await load_samples(db_url)
    [m] = fetch(
        db_url,
        "SELECT * FROM ops_api.style_timeline(%s)",
        CHANGED_STYLE,
        today="2025-11-06",
    )
    assert m["milestone_name"] == "TECHPACKS PASS OFF"
    assert (m["predecessor_id"], m["dependency_source"], m["duration_days"]) == (
        None,
        "schema",
        0,
    )
    assert m["start_date_plan"] == m["plan_date"] == D("2025-11-05")
    assert m["start_date_due"] == m["due_date"] == D("2025-11-05")
    # Approved a day after its due date: completed, so never late now, but finished late.
    assert (m["status"], m["is_completed"], m["is_late_now"], m["days_late"]) == (
        "approved",
        True,
        False,
        0,
    )
    assert m["completed_late"] is True
    assert m["projected_end"] == D("2025-11-06")  # its final date


async def test_a_style_without_rules_chains_its_milestones_by_plan_date(db_url: str) -> None:
    await load_samples(db_url)
    rows = fetch(
        db_url, "SELECT * FROM ops_api.style_timeline(%s)", DELETED_STYLE, today="2025-11-06"
    )
    assert len(rows) == 25
    by_name = {r["milestone_name"]: r for r in rows if r["milestone_name"]}
    first = by_name["TECHPACKS PASS OFF"]  # its rule came with the OnChange of another style
    assert (first["dependency_source"], first["predecessor_id"]) == ("schema", None)
    unnamed = [r for r in rows if r["template_item_id"] != first["template_item_id"]]
    assert {r["dependency_source"] for r in unnamed} == {"inferred"}
    ids = {r["id"]: r for r in rows}
    for r in unnamed:
        pred = ids[r["predecessor_id"]]
        assert pred["plan_date"] < r["plan_date"]
        assert r["duration_days"] == (r["plan_date"] - pred["plan_date"]).days
        assert r["start_date_plan"] == pred["plan_date"]
        # Nothing of this row is planned strictly between its predecessor and itself.
        assert not [x for x in rows if pred["plan_date"] < x["plan_date"] < r["plan_date"]]
    # 2026-02-13 twice (as the OnDelete last said): both follow one predecessor, not each other.
    same_day = [r for r in rows if r["plan_date"] == D("2026-02-13")]
    assert len(same_day) == 2
    assert same_day[0]["predecessor_id"] == same_day[1]["predecessor_id"]


def test_the_fixture_plan_gives_the_hand_checked_schedule(db_url: str) -> None:
    schedule.load(db_url)
    rows = fetch(
        db_url,
        "SELECT * FROM ops_api.style_timeline(%s)",
        schedule.STYLE,
        today=schedule.TODAY,
    )
    got = {
        r["milestone_name"]: (
            r["predecessor_id"],
            r["dependency_source"],
            r["duration_days"],
            r["start_date_plan"],
            r["start_date_due"],
            r["is_late_now"],
            r["days_late"],
            r["projected_end"],
            r["slack_days"],
            r["on_critical_path"],
        )
        for r in rows
    }
    n = schedule.node_id
    assert got == {
        "A START": (None, "schema", 0, D("2026-01-02"), D("2026-01-02"), False, 0,
                    D("2026-01-02"), None, False),
        # 3 business days after Friday 2 January: Wednesday 7 (5 calendar days); its due
        # date minus 3 business days is that Friday again.
        "B SUBMIT": (n("A START"), "schema", 5, D("2026-01-02"), D("2026-01-02"), True, 3,
                     D("2026-01-10"), 0, True),
        # Pushed by its late predecessor: 10 January + 5 days.
        "C APPROVE": (n("B SUBMIT"), "schema", 5, D("2026-01-07"), D("2026-01-07"), False, 0,
                      D("2026-01-15"), 0, True),
        # A cycle: the order of plan dates instead.
        "D LOOP": (n("A START"), "inferred", 3, D("2026-01-02"), D("2026-01-02"), True, 5,
                   D("2026-01-10"), 4, False),
        "E LOOP": (n("D LOOP"), "inferred", 1, D("2026-01-05"), D("2026-01-05"), True, 4,
                   D("2026-01-11"), 4, False),
        # An unknown name, and no rule at all: inferred.
        "F ORPHAN": (n("B SUBMIT"), "inferred", 1, D("2026-01-07"), D("2026-01-07"), True, 2,
                     D("2026-01-11"), 2, False),
        "G NO RULE": (n("F ORPHAN"), "inferred", 1, D("2026-01-08"), D("2026-01-08"), True, 1,
                      D("2026-01-12"), 2, False),
        # Its anchor is planned after it (a BEFORE-style rule): not followed.
        "H BEFORE C": (n("G NO RULE"), "inferred", 1, D("2026-01-09"), D("2026-01-09"), False,
                       0, D("2026-01-13"), 2, False),
    }  # fmt: skip
    [final] = [r for r in rows if r["is_final"]]
    assert final["milestone_name"] == "C APPROVE"


def test_rules_that_cannot_be_followed_are_reported_once(db_url: str) -> None:
    schedule.load(db_url)
    defs = fetch(
        db_url,
        "SELECT name, anchor_id, rule_problem FROM ops_api.milestone_definitions"
        " WHERE plan_id = %s ORDER BY name",
        schedule.PLAN,
    )
    problems = {d["name"]: d["rule_problem"] for d in defs if d["rule_problem"]}
    assert problems == {"D LOOP": "cycle", "E LOOP": "cycle", "F ORPHAN": "unknown"}
    anchors = {d["name"]: d["anchor_id"] for d in defs}
    assert anchors["C APPROVE"] == schedule.def_id("B SUBMIT")
    assert anchors["A START"] is None
    warnings = fetch(
        db_url, "SELECT entity_id, entity_type, severity, message FROM ops.import_errors"
    )
    by_id = {w["entity_id"]: w for w in warnings}
    assert len(warnings) == 3
    assert set(by_id) == {str(schedule.def_id(n)) for n in ("D LOOP", "E LOOP", "F ORPHAN")}
    assert {(w["entity_type"], w["severity"]) for w in warnings} == {
        ("timeline_template", "warning")
    }
    assert "forms a cycle" in by_id[str(schedule.def_id("D LOOP"))]["message"]
    assert str(schedule.UNKNOWN) in by_id[str(schedule.def_id("F ORPHAN"))]["message"]
    # Resolving again (nothing changed) reports nothing new.
    fetch(db_url, "SELECT ops.resolve_schedule_rules(%s, '{}')", [schedule.PLAN])
    assert len(fetch(db_url, "SELECT 1 FROM ops.import_errors")) == 3


def test_the_fixture_plans_critical_path_progress_and_workload(db_url: str) -> None:
    schedule.load(db_url)
    today = schedule.TODAY
    chain = fetch(
        db_url, "SELECT milestone_name FROM ops_api.critical_path(%s)", schedule.STYLE, today=today
    )
    assert [c["milestone_name"] for c in chain] == ["B SUBMIT", "C APPROVE"]
    [end] = fetch(
        db_url, "SELECT * FROM ops_api.plan_critical_path(%s)", schedule.PLAN, today=today
    )
    assert (end["final_milestone_name"], end["target_end"], end["projected_end"]) == (
        "C APPROVE",
        D("2026-01-12"),
        D("2026-01-15"),
    )
    assert (end["days_slipped"], end["plan_end_date"], end["days_past_plan_end"]) == (
        3,
        D("2026-01-13"),
        2,
    )
    assert (end["critical_path_length"], end["late_milestones"]) == (2, 5)

    [progress] = fetch(db_url, "SELECT ops_api.plan_progress(%s) AS p", schedule.PLAN, today=today)
    p = progress["p"]
    assert (p["total"], p["completed"], p["late"], p["on_time"], p["completion_pct"]) == (
        8,
        1,
        5,
        3,
        12.5,
    )
    assert p["by_status"] == {
        "not_started": 5,
        "in_progress": 1,
        "waiting_on": 1,
        "rejected": 0,
        "approved": 1,
        "approved_with_corrections": 0,
        "complete": 0,
        "na": 0,
        "unknown": 0,
    }
    assert p["health"] == {
        "late_styles": 1,
        "late_materials": 0,
        "max_days_late": 5,
        "max_baseline_drift": 0,
        "avg_baseline_drift": 0,
        "recovery_opportunities": 4,
        "risk_level": "low",
    }
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE ops.read_settings SET risk_medium_from = 3, risk_high_from = 5")
    [progress] = fetch(db_url, "SELECT ops_api.plan_progress(%s) AS p", schedule.PLAN, today=today)
    assert progress["p"]["health"]["risk_level"] == "high"

    weeks = fetch(
        db_url,
        "SELECT week_start, open_milestones, late_milestones, plan_ids"
        " FROM ops_api.user_workload(NULL)",
        today=today,
    )
    assert weeks == [
        {"week_start": D("2026-01-05"), "open_milestones": 6, "late_milestones": 5,
         "plan_ids": [schedule.PLAN]},
        {"week_start": D("2026-01-12"), "open_milestones": 1, "late_milestones": 0,
         "plan_ids": [schedule.PLAN]},
    ]  # fmt: skip


def test_business_days_skip_weekends(db_url: str) -> None:
    start = dt.date(2025, 12, 1)
    cases = [(start + dt.timedelta(days=i), n) for i in range(14) for n in range(-12, 13)]
    got = fetch(
        db_url,
        "SELECT d, n, ops_api.add_days(d, n, true) AS r"
        " FROM unnest(%s::date[], %s::int[]) AS x(d, n)",
        [c[0] for c in cases],
        [c[1] for c in cases],
    )
    assert len(got) == len(cases)
    for row in got:
        assert row["r"] == business_days(row["d"], row["n"]), row


def business_days(d: dt.date, n: int) -> dt.date:
    """Brute force: step day by day, counting weekdays (from a weekend, forwards counting
    starts at the Friday before and backwards at the Monday after)."""
    if n == 0:
        return d
    step = 1 if n > 0 else -1
    while d.isoweekday() > 5:  # onto the neighbouring weekday on the side we come from
        d -= dt.timedelta(days=step)
    left = abs(n)
    while left:
        d += dt.timedelta(days=step)
        if d.isoweekday() <= 5:
            left -= 1
    return d


def test_calendar_days_add_plainly_and_business_days_jump_the_weekend(db_url: str) -> None:
    [plain] = fetch(db_url, "SELECT ops_api.add_days('2026-01-09', 3, false) AS r")
    assert plain["r"] == D("2026-01-12")
    [business] = fetch(db_url, "SELECT ops_api.add_days('2026-01-09', 3, true) AS r")
    assert business["r"] == D("2026-01-14")  # Friday + 3 business days: Wednesday


async def test_webhook_rules_forming_a_cycle_are_warned_once_and_not_followed(
    db_url: str,
) -> None:
    create = load_sample("tracking_oncreate.json")
    change = load_sample("tracking_onchangetimeline.json")
    second = create["data"]["after"]["Timelines"][1]  # PROTO-something, planned 2025-11-09
    style = create["data"]["after"]["Id"]

    def onchange(item: dict[str, Any], schema_id: str, anchor: str, date: str) -> dict[str, Any]:
        body = copy.deepcopy(change)
        body["date"] = date
        body["data"]["timelineId"] = style
        for side in ("before", "after"):
            body["data"][side]["Id"] = style
            body["data"][side]["TimeLineItem"] = copy.deepcopy(item)
        body["data"]["timeLineSchema"].update(Id=schema_id, ActDesc=anchor, Days=2)
        return body

    first = create["data"]["after"]["Timelines"][0]
    bodies = [
        create,
        onchange(second, second["TimeLineId"], first["TimeLineId"], "2025-11-07T00:00:00Z"),
        onchange(first, first["TimeLineId"], second["TimeLineId"], "2025-11-08T00:00:00Z"),
    ]
    async with await db.aconnect(db_url, autocommit=True) as conn:
        for body in bodies:
            await apply_body(conn, body)
        await apply_body(conn, bodies[2])  # a repeat changes no rule
    warnings = fetch(db_url, "SELECT entity_id, message FROM ops.import_errors")
    assert [w["entity_id"] for w in warnings] == [first["TimeLineId"]]
    assert "cycle" in warnings[0]["message"]
    rows = {
        str(r["id"]): r
        for r in fetch(
            db_url, "SELECT * FROM ops_api.style_timeline(%s)", style, today="2025-11-06"
        )
    }
    # Both rules are in a cycle: both fall back to the order of plan dates.
    assert rows[second["Id"]]["dependency_source"] == "inferred"
    assert rows[first["Id"]]["dependency_source"] == "none"


async def apply_body(conn: Any, body: dict[str, Any]) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(body, f)
    await ingest(conn, [Path(f.name)], Policy(zone=ZoneInfo("UTC")))
    Path(f.name).unlink()

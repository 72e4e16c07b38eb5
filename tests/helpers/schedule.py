"""A hand-checked plan for the read model: schedule rules, business days, a cycle, an unknown
name, a rule pointing forward, and milestones without a rule. Written straight into the ops
tables (what the apply path would have written), then the rules resolved as the apply path
resolves them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

PLAN = uuid.UUID("10000000-0000-4000-8000-000000000001")
FOLDER = uuid.UUID("10000000-0000-4000-8000-000000000002")
STYLE = uuid.UUID("10000000-0000-4000-8000-000000000003")
USER = uuid.UUID("10000000-0000-4000-8000-000000000004")
NIL = uuid.UUID(int=0)
UNKNOWN = uuid.UUID("10000000-0000-4000-8000-0000000000ff")
TODAY = "2026-01-10"  # a Saturday

# name → (rule: (days, act_desc name or NIL/UNKNOWN, calendar) or None, plan date, due date,
#          status, final date)
MILESTONES: dict[str, tuple[tuple[int, Any, str] | None, str, str, str, str | None]] = {
    "A START": ((0, NIL, "DAYS"), "2026-01-02", "2026-01-02", "APPROVED", "2026-01-02"),
    "B SUBMIT": (
        (3, "A START", "US Business Days"),
        "2026-01-07",
        "2026-01-07",
        "IN_PROGRESS",
        None,
    ),
    "C APPROVE": ((5, "B SUBMIT", "DAYS"), "2026-01-12", "2026-01-12", "NOT_STARTED", None),
    "D LOOP": ((1, "E LOOP", "DAYS"), "2026-01-05", "2026-01-05", "NOT_STARTED", None),
    "E LOOP": ((1, "D LOOP", "DAYS"), "2026-01-06", "2026-01-06", "NOT_STARTED", None),
    "F ORPHAN": ((1, UNKNOWN, "DAYS"), "2026-01-08", "2026-01-08", "NOT_STARTED", None),
    "G NO RULE": (None, "2026-01-09", "2026-01-09", "WAITING_ON", None),
    "H BEFORE C": ((2, "C APPROVE", "DAYS"), "2026-01-10", "2026-01-10", "NOT_STARTED", None),
}


def def_id(name: str) -> uuid.UUID:
    """The definition id of a fixture milestone."""
    return uuid.uuid5(PLAN, "def:" + name)


def node_id(name: str) -> uuid.UUID:
    """The milestone instance id of a fixture milestone."""
    return uuid.uuid5(PLAN, "node:" + name)


def load(url: str) -> None:
    """Write the fixture plan into the database at `url` and resolve its rules."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO ops.tracking_folder (id, name, brand) VALUES (%s, 'FIXTURE', 'FX')",
            (FOLDER,),
        )
        conn.execute(
            "INSERT INTO ops.tracking_plan (id, folder_id, name, start_date, end_date)"
            " VALUES (%s, %s, 'FIXTURE PLAN', '2026-01-02', '2026-01-13')",
            (PLAN, FOLDER),
        )
        for name, (rule, *_) in MILESTONES.items():
            days, anchor, calendar = rule if rule else (None, None, None)
            act = def_id(anchor) if isinstance(anchor, str) else anchor
            conn.execute(
                "INSERT INTO ops.tracking_timeline_template_item (id, plan_id, master_folder,"
                " name, department, days, direction, act_desc, calendar, rule_version)"
                " VALUES (%s, %s, 'Style', %s, 'DEV', %s, %s, %s, %s, %s)",
                (
                    def_id(name),
                    PLAN,
                    name,
                    days,
                    "AFTER" if rule else None,
                    act,
                    calendar,
                    1 if rule else None,
                ),
            )
        conn.execute(
            "INSERT INTO ops.tracking_plan_style (id, plan_id, style_number, style_name)"
            " VALUES (%s, %s, 'FX-1', 'Fixture Tee')",
            (STYLE, PLAN),
        )
        for name, (_, plan, due, status, final) in MILESTONES.items():
            conn.execute(
                "INSERT INTO ops.tracking_plan_style_timeline (id, plan_style_id,"
                " template_item_id, status, plan_date, due_date, final_date, assigned_to)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    node_id(name),
                    STYLE,
                    def_id(name),
                    status,
                    dt.date.fromisoformat(plan),
                    dt.date.fromisoformat(due),
                    dt.date.fromisoformat(final) if final else None,
                    Jsonb([{"value": "fx.user", "code": str(USER)}]),
                ),
            )
            conn.execute(
                "INSERT INTO ops.tracking_timeline_assignment (timeline_id, assignee_id,"
                " assignee_name) VALUES (%s, %s, 'fx.user')",
                (node_id(name), USER),
            )
        conn.execute(
            "SELECT ops.resolve_schedule_rules(%s, %s)",
            ([PLAN], [def_id(n) for n in MILESTONES]),
        )

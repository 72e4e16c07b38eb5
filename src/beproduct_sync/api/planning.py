"""What the dashboard's Plans and Workload pages show, read from the read model (`ops_api`):
plan progress and risk, a plan's styles x milestones grid with live lateness, its critical path
with projected dates, the styles that will miss its end date, and assignees' load per week."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from beproduct_sync.sql import query

Row = dict[str, Any]


async def _rows(conn: AsyncConnection[Any], name: str, **params: Any) -> list[Row]:
    cur = conn.cursor(row_factory=dict_row)
    return await (await cur.execute(query(name), params)).fetchall()


async def plans(conn: AsyncConnection[Any]) -> list[Row]:
    """Every plan with its `progress` figures (completion, late, risk: as
    ops_api.plan_progress computes them, for all plans in one pass)."""
    return await _rows(conn, "dashboard_plans")


@dataclass(frozen=True)
class Column:
    """A milestone definition of the grid, in schedule order."""

    id: UUID | None
    name: str
    department: str | None


@dataclass(frozen=True)
class Cell:
    """One grid cell, ready to show: CSS classes, the text on hover, the text in it."""

    css: str
    title: str
    text: str


@dataclass(frozen=True)
class GridRow:
    """An active style of the plan and its milestones, one cell per column (None: none)."""

    id: UUID
    style_number: str | None
    style_name: str | None
    color_name: str | None
    cells: list[Cell | None]
    late: int


def _cell(column: Column, m: Row) -> Cell:
    """A milestone as a cell: coloured by status, outlined when late now (its days late in
    it), underlined on the critical path; its dates on hover."""
    css = f"cell s-{m['status'] or 'unknown'}"
    css += " late" if m["is_late_now"] else ""
    css += " crit" if m["on_critical_path"] else ""
    title = (
        f"{column.name}: {m['status_label'] or m['status'] or 'no status'};"
        f" target {m['target_date'] or '-'}"
    )
    if m["final_date"]:
        title += f"; done {m['final_date']}"
    if m["is_late_now"]:
        title += f"; {m['days_late']} days late"
    title += f"; projected {m['projected_end'] or '-'}"
    return Cell(css, title, str(m["days_late"]) if m["is_late_now"] else "")


@dataclass(frozen=True)
class PlanPage:
    """Everything the plan page shows."""

    plan: Row
    columns: list[Column]
    rows: list[GridRow]
    ends: list[Row]
    missing_end: list[Row]
    gantt: dict[str, Any] | None
    gantt_style: Row | None = None
    statuses: list[str] = field(default_factory=list)


def _grid(cells: list[Row]) -> tuple[list[Column], list[GridRow]]:
    order: dict[UUID | None, tuple[Any, ...]] = {}
    names: dict[UUID | None, Column] = {}
    by_row: dict[UUID, list[Row]] = {}
    for c in cells:
        key = c["template_item_id"]
        rank = (c["depth"] or 0, c["plan_date"] or date.max, c["milestone_name"] or "")
        order[key] = min(order.get(key, rank), rank)
        names[key] = Column(key, c["short_name"] or c["milestone_name"] or "?", c["department"])
        by_row.setdefault(c["entity_id"], []).append(c)
    columns = [names[k] for k in sorted(order, key=lambda k: order[k])]
    rows = []
    for entity, found in by_row.items():
        first = found[0]
        by_column = {c["template_item_id"]: c for c in found}
        rows.append(
            GridRow(
                entity,
                first["style_number"],
                first["style_name"],
                first["color_name"],
                [_cell(col, by_column[col.id]) if col.id in by_column else None for col in columns],
                sum(1 for c in found if c["is_late_now"]),
            )
        )
    rows.sort(key=lambda r: (r.style_number or "", r.color_name or "", str(r.id)))
    return columns, rows


def _gantt(path: list[Row], plan_end: date | None) -> dict[str, Any] | None:
    """Chart.js floating bars: planned and projected start → end per milestone of the chain,
    in days from the earliest date shown (the page's script turns days back into dates)."""
    dated = [
        m for m in path if (m["projected_start"] or m["start_date_plan"]) and m["projected_end"]
    ]
    if not dated:
        return None
    days = [
        d
        for m in dated
        for d in (m["start_date_plan"], m["plan_date"], m["projected_start"], m["projected_end"])
        if d is not None
    ]
    origin = min(days)

    def span(start: date | None, end: date | None) -> list[int] | None:
        if start is None or end is None:
            return None
        # A milestone of no duration still gets a visible one-day bar.
        return [(start - origin).days, max((end - origin).days, (start - origin).days + 1)]

    return {
        "origin": origin.isoformat(),
        "labels": [m["milestone_name"] or "?" for m in dated],
        "planned": [span(m["start_date_plan"], m["plan_date"]) for m in dated],
        "projected": [span(m["projected_start"], m["projected_end"]) for m in dated],
        "late": [bool(m["is_late_now"]) for m in dated],
        "plan_end": None if plan_end is None else (plan_end - origin).days,
    }


async def plan_page(conn: AsyncConnection[Any], plan_id: UUID) -> PlanPage | None:
    """The plan page's data, or None for an unknown plan."""
    found = await _rows(conn, "dashboard_plan", plan=plan_id)
    if not found:
        return None
    plan = found[0]
    columns, rows = _grid(await _rows(conn, "dashboard_plan_grid", plan=plan_id))
    ends = await _rows(conn, "dashboard_plan_ends", plan=plan_id)
    missing = [e for e in ends if (e["days_past_plan_end"] or 0) > 0]
    gantt, style = None, None
    if ends:
        style = ends[0]  # the latest projected end: the style that decides the plan's end
        path = await _rows(conn, "dashboard_critical_path", entity=style["entity_id"])
        gantt = _gantt(path, plan["end_date"])
    statuses = sorted((plan["progress"] or {}).get("by_status", {}))
    return PlanPage(plan, columns, rows, ends, missing, gantt, style, statuses)


@dataclass(frozen=True)
class Workload:
    """Assignees x weeks of open (and late) milestones."""

    weeks: list[date]
    assignees: list[tuple[UUID, str]]
    cells: dict[tuple[UUID, date], Row]
    peak: int


async def today(conn: AsyncConnection[Any]) -> date:
    """The read model's today (`ops_api.today()`: the server's date unless set for a what-if)."""
    found = (await _rows(conn, "dashboard_today"))[0]["today"]
    assert isinstance(found, date)
    return found


async def workload(
    conn: AsyncConnection[Any], start: date | None = None, weeks: int = 8
) -> Workload:
    """Open milestones per assignee and week, `weeks` weeks from the week of `start` (default:
    the read model's today)."""
    start = start or await today(conn)
    monday = start - timedelta(days=start.weekday())
    last = monday + timedelta(weeks=weeks) - timedelta(days=1)
    found = await _rows(conn, "dashboard_workload", **{"from": monday, "to": last})
    cells = {(r["assignee_id"], r["week_start"]): r for r in found}
    names = {r["assignee_id"]: r["assignee_name"] or str(r["assignee_id"]) for r in found}
    assignees = sorted(names.items(), key=lambda kv: (kv[1].lower(), str(kv[0])))
    return Workload(
        [monday + timedelta(weeks=i) for i in range(weeks)],
        assignees,
        cells,
        max((r["open_milestones"] for r in found), default=0),
    )


async def assignee_milestones(
    conn: AsyncConnection[Any], assignee: UUID, start: date, end: date
) -> list[Row]:
    """One assignee's open milestones due (or overdue and counted) between two dates."""
    return await _rows(
        conn, "dashboard_assignee_milestones", assignee=assignee, **{"from": start, "to": end}
    )

"""`beproduct-sync report …`: the read model (ops_api) on the terminal, or as JSON."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Annotated, Any

import typer
from psycopg.rows import dict_row
from rich.console import Console
from rich.table import Table

from beproduct_sync import db
from beproduct_sync.cli.common import app, fail, run, runtime
from beproduct_sync.errors import SyncError
from beproduct_sync.sql import query

report_app = typer.Typer(
    help="Progress, lateness, workload and critical paths from the synced data.",
    no_args_is_help=True,
)
app.add_typer(report_app, name="report")

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
PlanArg = Annotated[str, typer.Argument(help="Plan id, or (part of) its name.")]


async def _fetch(url: str, steps: list[tuple[str, dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """The rows of each named query, on one connection."""
    async with await db.aconnect(url, autocommit=True) as conn:
        out = []
        for name, params in steps:
            cur = conn.cursor(row_factory=dict_row)
            out.append(await (await cur.execute(query(name), params)).fetchall())
        return out


def _rows(*steps: tuple[str, dict[str, Any]]) -> list[list[dict[str, Any]]]:
    rt = runtime()
    try:
        return run(_fetch(rt.url, list(steps)))
    except SyncError as exc:
        raise fail(str(exc)) from None


def _plan(text: str) -> tuple[str, str]:
    """The plan `text` names: (id, name), or a readable exit."""
    [found] = _rows(("report_find_plan", {"plan": text}))
    if not found:
        raise fail(f"no plan has the id or a name like {text!r}; see `report progress --help`")
    if len(found) > 1 and str(found[0]["id"]) != text.lower():
        names = ", ".join(repr(f["name"]) for f in found)
        raise fail(f"{text!r} matches more than one plan ({names}, …): give the plan id")
    return str(found[0]["id"]), found[0]["name"] or str(found[0]["id"])


def _json(data: Any) -> None:
    def value(v: object) -> str:
        return v.isoformat() if isinstance(v, dt.date | dt.datetime) else str(v)

    typer.echo(json.dumps(data, indent=2, default=value))


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*["" if v is None else str(v) for v in r])
    Console().print(table)


@report_app.command()
def progress(
    plan: PlanArg,
    entity_type: Annotated[
        str | None, typer.Option(help="Only 'style' or 'material' rows.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """A plan's progress: totals, by status and department, lateness, health and risk."""
    if entity_type not in (None, "style", "material"):
        raise fail("--entity-type is 'style' or 'material'")
    plan_id, name = _plan(plan)
    [[row]] = _rows(("api_plan_progress", {"plan": plan_id, "entity_type": entity_type}))
    p = next(iter(row.values()))
    if as_json:
        _json(p)
        return
    h = p["health"]
    _table(
        f"{name}: progress",
        ["total", "completed", "completion %", "late", "on time", "risk"],
        [[p["total"], p["completed"], p["completion_pct"], p["late"], p["on_time"],
          h["risk_level"]]],
    )  # fmt: skip
    _table("by status", list(p["by_status"]), [list(p["by_status"].values())])
    _table(
        "by department",
        ["department", "total", "completed", "late", "completion %"],
        [[d["department"], d["total"], d["completed"], d["late"], d["completion_pct"]]
         for d in p["by_department"]],
    )  # fmt: skip
    _table("health", list(h), [list(h.values())])


@report_app.command()
def late(
    plan: Annotated[
        str | None, typer.Argument(help="Plan id or name; every plan when omitted.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many milestones.")] = 50,
    as_json: AsJson = False,
) -> None:
    """Milestones late now (target date passed, not completed), most days late first."""
    plan_id, name = _plan(plan) if plan else (None, "all plans")
    [found] = _rows(("report_late", {"plan": plan_id, "limit": limit}))
    if as_json:
        _json(found)
        return
    _table(
        f"{name}: late milestones",
        ["days late", "target", "milestone", "style", "colour", "status", "plan"],
        [[m["days_late"], m["target_date"], m["milestone_name"], m["style_number"],
          m["color_name"], m["status"], m["plan_name"]] for m in found],
    )  # fmt: skip


@report_app.command()
def workload(
    assignee: Annotated[str | None, typer.Option(help="One assignee's id.")] = None,
    date_from: Annotated[
        str | None, typer.Option("--from", help="First week (YYYY-MM-DD); default this week.")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Last day (YYYY-MM-DD); default 8 weeks on.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Open and late milestones per assignee and week (overdue work counts this week)."""
    try:
        who = uuid.UUID(assignee) if assignee else None
        lo = dt.date.fromisoformat(date_from) if date_from else None
        hi = dt.date.fromisoformat(date_to) if date_to else None
    except ValueError:
        raise fail("--assignee is a user id, --from and --to are dates (YYYY-MM-DD)") from None
    [found] = _rows(("api_workload", {"user": who, "from": lo, "to": hi}))
    if as_json:
        _json(found)
        return
    _table(
        "workload",
        ["assignee", "week", "open", "late", "plans"],
        [[w["assignee_name"] or w["assignee_id"], w["week_start"], w["open_milestones"],
          w["late_milestones"], ", ".join(w["plan_names"] or [])] for w in found],
    )  # fmt: skip


@report_app.command("critical-path")
def critical_path(
    plan: PlanArg,
    limit: Annotated[int, typer.Option(min=1, help="Rows with the latest end to list.")] = 10,
    as_json: AsJson = False,
) -> None:
    """The rows whose projected end is latest (today's delays pushed through their chains),
    how far they miss the plan's end, and the chain of milestones deciding the latest."""
    plan_id, name = _plan(plan)
    [ends] = _rows(("api_plan_critical_path", {"plan": plan_id}))
    chain: list[dict[str, Any]] = []
    if ends:
        [chain] = _rows(("api_critical_path", {"entity": ends[0]["entity_id"]}))
    if as_json:
        _json({"plan_id": plan_id, "latest": ends[:limit], "critical_path": chain})
        return
    _table(
        f"{name}: latest projected ends",
        ["style", "colour", "last milestone", "target", "projected", "slipped", "past plan end"],
        [[e["style_number"], e["color_name"], e["final_milestone_name"], e["target_end"],
          e["projected_end"], e["days_slipped"], e["days_past_plan_end"]] for e in ends[:limit]],
    )  # fmt: skip
    if chain:
        _table(
            f"critical path of {ends[0]['style_number']}",
            ["milestone", "status", "plan", "target", "projected start", "projected end",
             "days", "slack"],
            [[m["milestone_name"], m["status"], m["plan_date"], m["target_date"],
              m["projected_start"], m["projected_end"], m["duration_days"], m["slack_days"]]
             for m in chain],
        )  # fmt: skip

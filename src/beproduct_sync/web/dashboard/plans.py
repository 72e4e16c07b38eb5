"""The dashboard's Plans and Workload pages: plan progress and risk, a plan's grid, critical
path and late styles, and assignees' load per week (read model `ops_api`, via api.planning)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response

from beproduct_sync.api import planning
from beproduct_sync.web.dashboard import render
from beproduct_sync.web.dashboard.pages import context_for, session_of, state_of, unauthenticated

RISK_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def _not_found(request: Request, what: str) -> Response:
    return render.page("error.html", {"message": f"No such {what}."}, 404)


async def plans_page(request: Request) -> Response:
    """`/plans`: every plan with its progress bar, late count and risk level."""
    session, _ = session_of(request)
    if session is None:
        return unauthenticated(request)
    state = state_of(request)

    async def compute() -> list[dict[str, Any]]:
        async with state.pool.connection(timeout=state.db_timeout) as conn:
            return await planning.plans(conn)

    found = await state.plans.get(compute)
    context = context_for(request, session, plans=found, page="plans", taken=state.plans.taken_at)
    return render.page("plans.html", context)


async def plan_page(request: Request) -> Response:
    """`/plans/{id}`: one plan's grid, critical path and the styles missing its end."""
    session, _ = session_of(request)
    if session is None:
        return unauthenticated(request)
    try:
        plan_id = UUID(request.path_params["plan_id"])
    except ValueError:
        return _not_found(request, "plan")
    state = state_of(request)

    async def compute() -> planning.PlanPage | None:
        async with state.pool.connection(timeout=state.db_timeout) as conn:
            return await planning.plan_page(conn, plan_id)

    snapshot = state.plan_pages[plan_id]
    found = await snapshot.get(compute)
    if found is None:
        return _not_found(request, "plan")
    context = context_for(request, session, view=found, page="plans", taken=snapshot.taken_at)
    return render.page("plan.html", context)


def _week(request: Request) -> date | None:
    """The Monday of the `week` asked for; None for the read model's current week."""
    raw = request.query_params.get("week")
    try:
        given = date.fromisoformat(raw) if raw else None
    except ValueError:
        given = None
    return None if given is None else given - timedelta(days=given.weekday())


async def workload_page(request: Request) -> Response:
    """`/workload`: assignees x weeks of open and late milestones."""
    session, _ = session_of(request)
    if session is None:
        return unauthenticated(request)
    state = state_of(request)
    start = _week(request)

    async def compute() -> planning.Workload:
        async with state.pool.connection(timeout=state.db_timeout) as conn:
            return await planning.workload(conn, start)

    snapshot = state.workloads[start]
    found = await snapshot.get(compute)
    first = found.weeks[0]
    context = context_for(
        request,
        session,
        load=found,
        page="workload",
        taken=snapshot.taken_at,
        previous=first - timedelta(weeks=len(found.weeks)),
        following=first + timedelta(weeks=len(found.weeks)),
    )
    return render.page("workload.html", context)


async def assignee_page(request: Request) -> Response:
    """`/workload/{assignee}?week=`: the milestones behind one heat map cell."""
    session, _ = session_of(request)
    if session is None:
        return unauthenticated(request)
    try:
        assignee = UUID(request.path_params["assignee"])
    except ValueError:
        return _not_found(request, "assignee")
    state = state_of(request)
    async with state.pool.connection(timeout=state.db_timeout) as conn:
        start = _week(request) or await planning.today(conn)
        start -= timedelta(days=start.weekday())
        found = await planning.assignee_milestones(conn, assignee, start, start + timedelta(days=6))
    context = context_for(
        request, session, milestones=found, week=start, assignee=assignee, page="workload"
    )
    return render.page("assignee.html", context)

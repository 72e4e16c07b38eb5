"""Workload: one user's milestones across plans, and open work per assignee and week."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from beproduct_sync.web.api_v1.deps import Connection, Reader
from beproduct_sync.web.api_v1.models import Milestone, Status, WorkloadWeek, milestone_fields
from beproduct_sync.web.api_v1.pages import Page, PageNumber, PageSize, page_fields
from beproduct_sync.web.api_v1.reads import rows
from beproduct_sync.web.responses import json_reply

router = APIRouter(prefix="/tracking", tags=["workload"])

# Answers go out as the rows' fields in JSON; `response_model` documents them (see plans.py).

From = Annotated[dt.date | None, Query(alias="from", description="Target date from.")]
To = Annotated[dt.date | None, Query(alias="to", description="Target date up to.")]


@router.get(
    "/users/{user_id}/assignments",
    summary="A user's milestones across plans",
    response_model=Page[Milestone],
)
async def user_assignments(
    _: Reader,
    conn: Connection,
    user_id: uuid.UUID,
    status: Annotated[Status | None, Query(description="Only this status.")] = None,
    date_from: From = None,
    date_to: To = None,
    late_only: Annotated[bool, Query(description="Only milestones late now.")] = False,
    include_completed: Annotated[bool, Query(description="Include completed ones.")] = False,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Response:
    """The milestones assigned to the user in active rows, soonest target first."""
    found = await rows(
        conn,
        "api_user_milestones",
        user=user_id,
        status=status,
        late_only=late_only,
        include_completed=include_completed,
        limit=page_size,
        offset=(page - 1) * page_size,
        **{"from": date_from, "to": date_to},
    )
    total = int(found[0]["total"]) if found else 0
    return json_reply(page_fields([milestone_fields(r) for r in found], page, page_size, total))


@router.get(
    "/workload",
    summary="Open milestones per assignee and week",
    response_model=list[WorkloadWeek],
)
async def workload(
    _: Reader,
    conn: Connection,
    assignee_id: Annotated[uuid.UUID | None, Query(description="One assignee only.")] = None,
    date_from: From = None,
    date_to: To = None,
) -> Response:
    """Per assignee and week of the target date (overdue work counts in this week): open
    milestones, how many are late, and the plans involved. Default: this week and 7 more."""
    found = await rows(conn, "api_workload", user=assignee_id, **{"from": date_from, "to": date_to})
    return json_reply(found)

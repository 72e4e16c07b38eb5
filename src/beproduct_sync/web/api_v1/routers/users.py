"""Workload: one user's milestones across plans, and open work per assignee and week."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from beproduct_sync.web.api_v1.deps import Connection, Reader
from beproduct_sync.web.api_v1.models import Milestone, Status, WorkloadWeek
from beproduct_sync.web.api_v1.pages import Page, PageNumber, PageSize, page_of
from beproduct_sync.web.api_v1.reads import rows

router = APIRouter(prefix="/tracking", tags=["workload"])

From = Annotated[dt.date | None, Query(alias="from", description="Target date from.")]
To = Annotated[dt.date | None, Query(alias="to", description="Target date up to.")]


@router.get("/users/{user_id}/assignments", summary="A user's milestones across plans")
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
) -> Page[Milestone]:
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
    return page_of([Milestone.from_row(r) for r in found], page, page_size, total)


@router.get("/workload", summary="Open milestones per assignee and week")
async def workload(
    _: Reader,
    conn: Connection,
    assignee_id: Annotated[uuid.UUID | None, Query(description="One assignee only.")] = None,
    date_from: From = None,
    date_to: To = None,
) -> list[WorkloadWeek]:
    """Per assignee and week of the target date (overdue work counts in this week): open
    milestones, how many are late, and the plans involved. Default: this week and 7 more."""
    found = await rows(conn, "api_workload", user=assignee_id, **{"from": date_from, "to": date_to})
    return [WorkloadWeek.model_validate(r) for r in found]

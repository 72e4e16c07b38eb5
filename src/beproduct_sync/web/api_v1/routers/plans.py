"""Plans: the list, one plan's details, its timeline, progress and critical path."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from beproduct_sync.web.api_v1.deps import Connection, Reader
from beproduct_sync.web.api_v1.errors import NotFound
from beproduct_sync.web.api_v1.models import (
    CriticalPath,
    Definition,
    EntityType,
    Milestone,
    Plan,
    PlanDetails,
    Status,
    milestone_fields,
)
from beproduct_sync.web.api_v1.pages import Page, PageNumber, PageSize, page_fields, page_of
from beproduct_sync.web.api_v1.progress import Progress
from beproduct_sync.web.api_v1.reads import require_plan, rows, value
from beproduct_sync.web.responses import json_reply

router = APIRouter(prefix="/tracking", tags=["plans"])

# The routes answering with many rows send the rows' fields as JSON (orjson) rather than
# building and re-serialising the models: for a page of 100 milestones that was most of the
# answer's time. `response_model` keeps the documented shape in the OpenAPI document, and the
# API tests validate answers against it.

TypeFilter = Annotated[EntityType | None, Query(description="Only styles or materials.")]


@router.get("/plans", summary="List plans")
async def list_plans(
    _: Reader,
    conn: Connection,
    q: Annotated[str | None, Query(max_length=200, description="Name contains.")] = None,
    active: Annotated[bool | None, Query(description="Only active (or inactive) plans.")] = None,
    page: PageNumber = 1,
    page_size: PageSize = 50,
) -> Page[Plan]:
    """Plans, newest start first, with their active style and material counts."""
    params = {"q": q or None, "active": active, "limit": page_size}
    found = await rows(conn, "api_plans", offset=(page - 1) * page_size, **params)
    if found:
        total = int(found[0]["total"])
    else:  # past the end: the window count had no row to ride on
        first = await rows(conn, "api_plans", offset=0, **{**params, "limit": 1})
        total = int(first[0]["total"]) if first else 0
    return page_of([Plan.model_validate(r) for r in found], page, page_size, total)


@router.get("/plans/{plan_id}", summary="One plan with its milestone definitions")
async def plan_details(_: Reader, conn: Connection, plan_id: uuid.UUID) -> PlanDetails:
    """A plan, its counts and its milestone definitions with their schedule rules."""
    found = await rows(conn, "api_plan", plan=plan_id)
    if not found:
        raise NotFound("plan")
    defs = await rows(conn, "api_plan_definitions", plan=plan_id)
    return PlanDetails(
        **Plan.model_validate(found[0]).model_dump(),
        definitions=[Definition.model_validate(d) for d in defs],
    )


@router.get(
    "/plans/{plan_id}/timeline",
    summary="A plan's milestones, paginated",
    response_model=Page[Milestone],
)
async def plan_timeline(
    _: Reader,
    conn: Connection,
    plan_id: uuid.UUID,
    entity_type: TypeFilter = None,
    status: Annotated[Status | None, Query(description="Only this status.")] = None,
    late_only: Annotated[bool, Query(description="Only milestones late now.")] = False,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Response:
    """Every milestone of the plan's active styles and materials, with start dates, durations,
    dependencies, live lateness and projected dates; styles first, in schedule order."""
    await require_plan(conn, plan_id)
    params = {"plan": plan_id, "status": status, "late_only": late_only}
    found = await rows(
        conn,
        "api_plan_timeline",
        page=page,
        page_size=page_size,
        entity_type=entity_type,
        **params,
    )
    total = int(await value(conn, "api_plan_timeline_count", entity_type=entity_type, **params))
    return json_reply(page_fields([milestone_fields(r) for r in found], page, page_size, total))


@router.get("/plans/{plan_id}/progress", summary="A plan's progress and health")
async def plan_progress(
    _: Reader, conn: Connection, plan_id: uuid.UUID, entity_type: TypeFilter = None
) -> Progress:
    """Totals, counts by status, department and entity type, late / on time, completion %,
    and health (max days late, baseline drift, recovery opportunities, risk level)."""
    await require_plan(conn, plan_id)
    found = await value(conn, "api_plan_progress", plan=plan_id, entity_type=entity_type)
    return Progress.model_validate(found)


@router.get(
    "/plans/{plan_id}/critical-path",
    summary="What decides the plan's end",
    response_model=CriticalPath,
)
async def plan_critical_path(
    _: Reader,
    conn: Connection,
    plan_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=500, description="Rows with the latest end.")] = 20,
) -> Response:
    """The styles and materials whose projected end is latest (today's delays pushed through
    their dependency chains), by how much they miss the plan's end date, and the chain of
    milestones that decides the latest one."""
    [found] = await rows(conn, "api_plan_critical_path_answer", plan=plan_id, limit=limit)
    if not found["found"]:
        raise NotFound("plan")
    return json_reply(
        {
            "plan_id": plan_id,
            "plan_end_date": found["plan_end_date"],
            "entities": found["entities"],
            "missing_plan_end": found["missing_plan_end"],
            "latest": found["latest"],
            "critical_path": [milestone_fields(r) for r in found["chain"]],
        }
    )

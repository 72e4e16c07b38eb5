"""One style's or material's timeline, and a milestone's dependencies."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from beproduct_sync.web.api_v1.deps import Connection, Reader
from beproduct_sync.web.api_v1.errors import NotFound
from beproduct_sync.web.api_v1.models import (
    Dependencies,
    EntityTimeline,
    EntityType,
    Milestone,
    Totals,
)
from beproduct_sync.web.api_v1.reads import rows

router = APIRouter(prefix="/tracking/timeline", tags=["timeline"])


def totals(milestones: list[Milestone]) -> Totals:
    """Total, completed, late and completion % of `milestones`."""
    done = sum(1 for m in milestones if m.is_completed)
    total = len(milestones)
    return Totals(
        total=total,
        completed=done,
        late=sum(1 for m in milestones if m.is_late_now),
        completion_pct=round(100.0 * done / total, 1) if total else 0.0,
    )


@router.get("/node/{node_id}/dependencies", summary="A milestone's predecessor and dependents")
async def node_dependencies(_: Reader, conn: Connection, node_id: uuid.UUID) -> Dependencies:
    """The milestone, the one it follows in its row's schedule, and those that follow it."""
    found = [Milestone.from_row(r) for r in await rows(conn, "api_node_dependencies", node=node_id)]
    node = next((m for m in found if m.node_id == node_id), None)
    if node is None:
        raise NotFound("milestone")
    return Dependencies(
        node=node,
        predecessor=next((m for m in found if m.node_id == node.predecessor_id), None),
        dependents=[m for m in found if m.predecessor_id == node_id],
    )


@router.get("/{entity_type}/{entity_id}", summary="One style's or material's milestones")
async def entity_timeline(
    _: Reader,
    conn: Connection,
    entity_type: EntityType,
    entity_id: uuid.UUID,
    plan_id: Annotated[uuid.UUID | None, Query(description="Must be the row's plan.")] = None,
    include_completed: Annotated[bool, Query(description="Include completed ones.")] = True,
    include_dependencies: Annotated[
        bool, Query(description="Include start dates, predecessors and projections.")
    ] = True,
) -> EntityTimeline:
    """The row's milestones in schedule order with start dates, durations, predecessors, live
    lateness, slack and projected dates; `metadata` counts all of them."""
    found = [
        Milestone.from_row(r)
        for r in await rows(conn, "api_entity_timeline", entity=entity_id, entity_type=entity_type)
    ]
    if not found or (plan_id is not None and found[0].plan_id != plan_id):
        raise NotFound(entity_type)
    shown = [m for m in found if include_completed or not m.is_completed]
    if not include_dependencies:
        drop = {
            "start_date_plan",
            "start_date_due",
            "duration_days",
            "predecessor_id",
            "dependency_source",
            "projected_start",
            "projected_end",
            "slack_days",
            "on_critical_path",
        }
        shown = [m.model_copy(update=dict.fromkeys(drop)) for m in shown]
    return EntityTimeline(
        entity_type=entity_type,
        entity_id=entity_id,
        plan_id=found[0].plan_id,
        metadata=totals(found),
        milestones=shown,
    )

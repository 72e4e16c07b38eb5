"""The typed shapes of the read API's answers (they make the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

EntityType = Literal["style", "material"]
Status = Literal[
    "not_started",
    "in_progress",
    "waiting_on",
    "rejected",
    "approved",
    "approved_with_corrections",
    "complete",
    "na",
]


class Person(BaseModel):
    """An assignee or share target as BeProduct lists it."""

    id: str | None = None
    name: str | None = None


def people(value: Any) -> list[dict[str, Any]]:
    """BeProduct's `{value: name, code: id}` list as people (the fields of `Person`)."""
    if not isinstance(value, list):
        return []
    return [{"id": p.get("code"), "name": p.get("value")} for p in value if isinstance(p, dict)]


class Milestone(BaseModel):
    """One milestone of a style or material in a plan, with its schedule and live lateness."""

    node_id: uuid.UUID = Field(description="The milestone instance id.")
    entity_type: EntityType
    entity_id: uuid.UUID = Field(description="The style (or material) row in the plan.")
    plan_id: uuid.UUID
    plan_name: str | None
    definition_id: uuid.UUID | None = Field(description="The milestone definition.")
    name: str | None
    short_name: str | None
    department: str | None
    page: str | None
    style_number: str | None
    style_name: str | None
    color_name: str | None
    supplier_name: str | None
    status: Status | None
    status_label: str | None
    plan_date: dt.date | None
    due_date: dt.date | None
    rev_date: dt.date | None
    final_date: dt.date | None
    target_date: dt.date | None = Field(description="rev, else due.")
    start_date_plan: dt.date | None = None
    start_date_due: dt.date | None = None
    duration_days: int | None = None
    predecessor_id: uuid.UUID | None = None
    dependency_source: Literal["schema", "inferred", "none"] | None = None
    is_completed: bool
    is_late_now: bool
    days_late: int
    days_late_to_plan: int
    completed_late: bool
    projected_start: dt.date | None = None
    projected_end: dt.date | None = None
    slack_days: int | None = None
    on_critical_path: bool | None = None
    assigned_to: list[Person]
    shared_with: list[Person]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Milestone:
        """A row of ops_api.plan_milestones (or ops_api.milestone_state) as a milestone."""
        return cls.model_validate(milestone_fields(row))


def milestone_fields(row: dict[str, Any]) -> dict[str, Any]:
    """A row of ops_api.plan_milestones (or ops_api.milestone_state) as the fields of a
    `Milestone`, ready for JSON: the read routes send these as they are, without building
    the model (the model is their documented shape; tests check the two agree)."""
    return {
        "node_id": row["id"],
        "entity_type": row["entity_type"],
        "entity_id": row["entity_id"],
        "plan_id": row["plan_id"],
        "plan_name": row["plan_name"],
        "definition_id": row["template_item_id"],
        "name": row["milestone_name"],
        "short_name": row["short_name"],
        "department": row["department"],
        "page": row["page_name"],
        "style_number": row["style_number"],
        "style_name": row["style_name"],
        "color_name": row["color_name"],
        "supplier_name": row["supplier_name"],
        "status": row["status"],
        "status_label": row["status_label"],
        "plan_date": row["plan_date"],
        "due_date": row["due_date"],
        "rev_date": row["rev_date"],
        "final_date": row["final_date"],
        "target_date": row["target_date"],
        "start_date_plan": row.get("start_date_plan"),
        "start_date_due": row.get("start_date_due"),
        "duration_days": row.get("duration_days"),
        "predecessor_id": row.get("predecessor_id"),
        "dependency_source": row.get("dependency_source"),
        "is_completed": bool(row["is_completed"]),
        "is_late_now": bool(row["is_late_now"]),
        "days_late": row["days_late"] or 0,
        "days_late_to_plan": row["days_late_to_plan"] or 0,
        "completed_late": bool(row["completed_late"]),
        "projected_start": row.get("projected_start"),
        "projected_end": row.get("projected_end"),
        "slack_days": row.get("slack_days"),
        "on_critical_path": row.get("on_critical_path"),
        "assigned_to": people(row["assigned_to"]),
        "shared_with": people(row["shared_with"]),
    }


class Definition(BaseModel):
    """A milestone definition of a plan, with its schedule rule when known."""

    id: uuid.UUID
    entity_type: str | None
    name: str | None
    short_name: str | None
    department: str | None
    page_name: str | None
    rule_known: bool
    days: int | None
    direction: str | None = Field(description="BeProduct's When: AFTER or BEFORE.")
    act_desc: uuid.UUID | None
    calendar: str | None
    business_days: bool
    anchor_id: uuid.UUID | None
    rule_problem: str | None


class Plan(BaseModel):
    """A plan as listed."""

    id: uuid.UUID
    name: str | None
    description: str | None
    start_date: dt.date | None
    end_date: dt.date | None
    active: bool
    folder_id: uuid.UUID | None
    folder_name: str | None
    brand: str | None
    styles: int
    materials: int


class PlanDetails(Plan):
    """A plan with its milestone definitions."""

    definitions: list[Definition]


class Totals(BaseModel):
    """Counts over a list of milestones."""

    total: int
    completed: int
    late: int
    completion_pct: float


class EntityTimeline(BaseModel):
    """One style's (or material's) milestones in schedule order, with totals."""

    entity_type: EntityType
    entity_id: uuid.UUID
    plan_id: uuid.UUID
    metadata: Totals
    milestones: list[Milestone]


class Dependencies(BaseModel):
    """A milestone, its predecessor and the milestones that follow it."""

    node: Milestone
    predecessor: Milestone | None
    dependents: list[Milestone]


class StyleEnd(BaseModel):
    """A style's (or material's) last projected milestone against its target and the plan's
    end date."""

    entity_type: EntityType
    entity_id: uuid.UUID
    style_number: str | None
    style_name: str | None
    color_name: str | None
    final_milestone_id: uuid.UUID
    final_milestone_name: str | None
    target_end: dt.date | None
    projected_end: dt.date | None
    days_slipped: int
    plan_end_date: dt.date | None
    days_past_plan_end: int
    critical_path_length: int
    late_milestones: int


class CriticalPath(BaseModel):
    """Per plan: the rows whose projected end is latest, and the chain deciding the latest."""

    plan_id: uuid.UUID
    plan_end_date: dt.date | None
    entities: int
    missing_plan_end: int = Field(description="Rows projected to end after the plan's end.")
    latest: list[StyleEnd]
    critical_path: list[Milestone] = Field(
        description="The chain deciding the latest row's end, in order."
    )


class WorkloadWeek(BaseModel):
    """Open milestones of one assignee in one week (overdue work counts in this week)."""

    assignee_id: uuid.UUID
    assignee_name: str | None
    week_start: dt.date
    open_milestones: int
    late_milestones: int
    plan_ids: list[uuid.UUID]
    plan_names: list[str]

"""The shape of a plan's progress (ops_api.plan_progress)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel


class DepartmentProgress(BaseModel):
    """Counts of one department's milestones."""

    department: str | None
    total: int
    completed: int
    late: int
    completion_pct: float


class EntityProgress(BaseModel):
    """Counts of the style (or material) milestones of a plan."""

    total: int
    completed: int
    late: int
    completion_pct: float
    entities: int
    late_entities: int
    max_days_late: int


class Health(BaseModel):
    """How late the plan is and how much can still be recovered."""

    late_styles: int
    late_materials: int
    max_days_late: int
    max_baseline_drift: int
    avg_baseline_drift: float
    recovery_opportunities: int
    risk_level: str


class Progress(BaseModel):
    """A plan's progress: BeProduct's Style/Progress counts and more."""

    plan_id: uuid.UUID
    entity_type: str | None
    total: int
    completed: int
    completion_pct: float
    late: int
    on_time: int
    by_status: dict[str, int]
    by_department: list[DepartmentProgress]
    by_entity_type: dict[str, EntityProgress]
    health: Health

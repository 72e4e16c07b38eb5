"""The fake's data: folders, plans, milestone definitions, style/material rows and milestones.

Times are kept as 100-ns ticks since the Unix epoch (the resolution BeProduct's .NET backend
shows in its 7-digit timestamps) and formatted only at the edges.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from beproduct_sync.model.times import parse_time, zulu

TICKS_PER_SECOND = 10_000_000
TICKS_PER_DAY = 86_400 * TICKS_PER_SECOND


def fmt_time(ticks: int | None) -> str | None:
    """BeProduct's text for an instant: 7 fractional digits and Z; whole seconds without them
    (midnight dates come back as "2025-11-06T00:00:00Z" in real payloads)."""
    return None if ticks is None else zulu(ticks)


def to_ticks(text: str) -> int:
    """Ticks of an ISO-8601 timestamp (ValueError if it is not one)."""
    parsed = parse_time(text)
    if parsed is None:
        raise ValueError("empty timestamp")
    return parsed.ticks


def now_ticks() -> int:
    """The current wall-clock time in ticks."""
    return time.time_ns() // 100


class Clock:
    """Strictly increasing ticks: real time, or virtual time stepping from `start` when given.

    Strictness matters: a mutation and the webhook announcing it must never share or invert
    timestamps, or a sync that orders by source time would call a newer event stale.
    """

    def __init__(self, start: int | None = None, step_seconds: float = 37.0) -> None:
        self._virtual = start
        self._step = int(step_seconds * TICKS_PER_SECOND)
        self._last = 0

    def now(self) -> int:
        """The next instant, later than every one returned before."""
        if self._virtual is not None:
            self._virtual += self._step + 1_234_567
            candidate = self._virtual
        else:
            candidate = now_ticks()
        self._last = max(candidate, self._last + 1)
        return self._last


@dataclass(frozen=True)
class User:
    """A BeProduct user (assignee, modifier) or partner (share target: a supplier, with its
    partner type and country)."""

    id: str
    name: str
    partner_type: str | None = None
    country: str | None = None


@dataclass
class Folder:
    """A tracking folder."""

    id: str
    name: str
    brand: str | None
    active: bool
    created_at: int
    modified_at: int
    description: str | None = None


NIL_UUID = "00000000-0000-0000-0000-000000000000"


@dataclass
class MilestoneDef:
    """A plan's milestone definition (REST `timelines[]`, webhook `timeLineSchema`)."""

    id: str
    department: str
    action: str
    short: str
    page_name: str | None
    days: int  # from the plan's start
    plan_date: int
    default_status: str = "Not Started"
    # The schedule rule a webhook's timeLineSchema carries: `gap` days AFTER the definition
    # `anchor` (the nil uuid: the plan's start).
    anchor: str = NIL_UUID
    gap: int = 0


@dataclass
class Milestone:
    """One milestone instance of a row."""

    id: str
    timeline_id: str
    status: str
    plan: int | None
    due: int | None
    rev: int | None = None
    final: int | None = None
    assigned_to: list[User] = field(default_factory=list)
    share_with: list[User] = field(default_factory=list)
    late: bool = False
    submits_quantity: int = 0
    page: str | None = None


@dataclass
class Header:
    """The style (or material) master record a row points at."""

    id: str
    number: str
    name: str
    folder_id: str
    folder_name: str  # the master folder: "Style" or "Material"


@dataclass
class Row:
    """A style-in-plan (or material-in-plan) record: the webhook's `data.timelineId`."""

    id: str
    plan_id: str
    kind: str  # "Style" | "Material"
    header: Header
    color_id: str
    color_number: str
    color_name: str
    size: str
    supplier: User | None
    modified_at: int
    modified_by: User
    milestones: list[Milestone]
    order: int
    archived: bool = False

    def milestone(self, milestone_id: str) -> Milestone:
        """The milestone instance with this id (KeyError if none)."""
        for m in self.milestones:
            if m.id == milestone_id:
                return m
        raise KeyError(milestone_id)


@dataclass
class Plan:
    """A tracking plan with its definitions and rows (insertion-ordered)."""

    id: str
    name: str
    description: str
    folder_id: str
    start: int
    end: int
    active: bool
    created_at: int
    modified_at: int
    created_by: User
    modified_by: User
    style_defs: list[MilestoneDef]
    material_defs: list[MilestoneDef]
    styles: dict[str, Row] = field(default_factory=dict)
    materials: dict[str, Row] = field(default_factory=dict)

    def rows(self, kind: str) -> dict[str, Row]:
        """The style or material rows."""
        return self.materials if kind.lower() == "material" else self.styles

    def defs(self, kind: str) -> list[MilestoneDef]:
        """The style or material milestone definitions."""
        return self.material_defs if kind.lower() == "material" else self.style_defs

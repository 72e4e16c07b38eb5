"""Reverse sync, the pure part: change requests, milestone states, conflicts, Edit bodies.

A request changes some of a milestone's status, rev date and final date (absolute values) and
adds or removes assignees and share targets (set operations). Both kinds are idempotent: sending
one twice leaves BeProduct as sending it once. Conflicts are judged per field: a field the
request sets conflicts when BeProduct's value is neither what the requester saw (the base) nor
what the request asks for. Adding and removing people commute with other changes and never
conflict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from beproduct_sync.model.coerce import uuid_text
from beproduct_sync.model.rows import map_status
from beproduct_sync.model.times import date_of_text

SCALARS = ("status", "rev_date", "final_date")
# ops.timeline_status → the label BeProduct's own UI and webhooks use.
STATUS_LABELS = {
    "NOT_STARTED": "Not Started",
    "IN_PROGRESS": "In Progress",
    "WAITING_ON": "Waiting On",
    "REJECTED": "Rejected",
    "APPROVED": "Approved",
    "APPROVED_WITH_CORRECTIONS": "Approved with corrections",
    "COMPLETE": "Complete",
    "NA": "NA",
}
# The Edit body's names of our fields.
_EDIT_KEYS = {"status": "status", "rev_date": "rev", "final_date": "final"}


@dataclass(frozen=True)
class MilestoneState:
    """What a milestone holds, in comparable form: enum status, ISO dates, id sets."""

    status: str | None
    rev_date: str | None
    final_date: str | None
    assignees: frozenset[str] = frozenset()
    share: frozenset[str] = frozenset()

    def value(self, name: str) -> str | None:
        """One of SCALARS."""
        found: str | None = getattr(self, name)
        return found

    def to_json(self) -> dict[str, Any]:
        """As stored in a conflict's `ours` / `theirs`."""
        return {
            "status": _lower(self.status),
            "rev_date": self.rev_date,
            "final_date": self.final_date,
            "assignees": sorted(self.assignees),
            "share": sorted(self.share),
        }


@dataclass(frozen=True)
class ChangeRequest:
    """One row of ops.timeline_change_request, as the sender needs it."""

    id: int
    milestone_id: str
    record_id: str
    plan_id: str
    entity_type: str
    changes: tuple[str, ...]
    status: str | None = None
    rev_date: str | None = None
    final_date: str | None = None
    assignees_add: tuple[str, ...] = ()
    assignees_remove: tuple[str, ...] = ()
    share_add: tuple[str, ...] = ()
    share_remove: tuple[str, ...] = ()
    force: bool = False
    base: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    claims: int = 0
    state: str = "pending"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ChangeRequest:
        """From a database row (dict_row)."""

        def ids(name: str) -> tuple[str, ...]:
            return tuple(str(x) for x in row.get(name) or ())

        def day(name: str) -> str | None:
            value = row.get(name)
            return None if value is None else str(value)

        return cls(
            id=int(row["id"]),
            milestone_id=str(row["milestone_id"]),
            record_id=str(row["record_id"]),
            plan_id=str(row["plan_id"]),
            entity_type=str(row["entity_type"]),
            changes=tuple(row.get("changes") or ()),
            status=row.get("status"),
            rev_date=day("rev_date"),
            final_date=day("final_date"),
            assignees_add=ids("assignees_add"),
            assignees_remove=ids("assignees_remove"),
            share_add=ids("share_add"),
            share_remove=ids("share_remove"),
            force=bool(row.get("force")),
            base=dict(row.get("base") or {}),
            attempts=int(row.get("attempts") or 0),
            claims=int(row.get("claims") or 0),
            state=str(row.get("state") or "pending"),
        )

    @property
    def kind(self) -> str:
        """BeProduct's path segment: 'Style' or 'Material'."""
        return "Material" if self.entity_type == "material" else "Style"

    def wanted(self, name: str) -> str | None:
        """The value the request sets for one of SCALARS."""
        found: str | None = getattr(self, name)
        return found

    def base_value(self, name: str) -> str | None:
        """The base's value of one of SCALARS, as an enum / ISO date."""
        value = self.base.get(name)
        if value is None:
            return None
        return str(value).upper() if name == "status" else str(value)[:10]


def satisfied(req: ChangeRequest, state: MilestoneState) -> bool:
    """True when `state` holds everything the request asks for."""
    for name in req.changes:
        if state.value(name) != req.wanted(name):
            return False
    return (
        set(req.assignees_add) <= state.assignees
        and not set(req.assignees_remove) & state.assignees
        and set(req.share_add) <= state.share
        and not set(req.share_remove) & state.share
    )


def conflicting_fields(
    req: ChangeRequest,
    state: MilestoneState,
    ours: dict[str, set[str | None]] | None = None,
) -> list[str]:
    """The fields the request sets whose value in `state` is neither the base nor the wanted
    value: someone else changed them since the requester looked. `ours`: per field, values
    earlier requests of ours set that the base could not show yet (our own echo is no
    conflict). Empty when forced."""
    if req.force:
        return []
    mine = ours or {}
    return [
        name
        for name in req.changes
        if name in req.base
        and state.value(name) != req.base_value(name)
        and state.value(name) != req.wanted(name)
        and state.value(name) not in mine.get(name, set())
    ]


def version_moved(req: ChangeRequest, stored_version: str | None) -> bool:
    """The requester named the source version it saw, gave no values, and our row has moved
    on since: we cannot tell what it saw, so it is a conflict (unless forced)."""
    given = req.base.get("source_version")
    has_values = any(name in req.base for name in SCALARS)
    if req.force or not req.base.get("given") or given is None or has_values:
        return False
    return str(given) != str(stored_version)


def conflict_detail(
    req: ChangeRequest, fields: list[str], ours: MilestoneState, theirs: MilestoneState, where: str
) -> dict[str, Any]:
    """The `conflict` column: which fields, what the requester saw and wanted, BeProduct's."""
    return {
        "fields": fields,
        "detected_by": where,
        "base": {k: v for k, v in req.base.items() if k != "given"},
        "wanted": {
            name: _lower(req.wanted(name)) if name == "status" else req.wanted(name)
            for name in req.changes
        },
        "ours": ours.to_json(),
        "theirs": theirs.to_json(),
    }


def state_from_api(item: dict[str, Any], zone: tzinfo) -> MilestoneState:
    """A REST timeline item (`{status, rev, final, assignedTo, shareWith}`) as a state."""
    return MilestoneState(
        status=map_status(item.get("status") if isinstance(item.get("status"), str) else None),
        rev_date=date_of_text(item.get("rev"), zone),
        final_date=date_of_text(item.get("final"), zone),
        assignees=_ids(item.get("assignedTo"), "id"),
        share=_ids(item.get("shareWith"), "id"),
    )


def state_from_people(
    status: str | None,
    rev_date: Any,
    final_date: Any,
    assigned: Iterable[Any],
    shared: Iterable[Any],
) -> MilestoneState:
    """Our stored milestone (people as `{value, code}` lists, or plain ids) as a state."""
    return MilestoneState(
        status=status,
        rev_date=None if rev_date is None else str(rev_date)[:10],
        final_date=None if final_date is None else str(final_date)[:10],
        assignees=_ids(assigned, "code"),
        share=_ids(shared, "code"),
    )


def edit_body(requests: Iterable[ChangeRequest]) -> list[dict[str, Any]]:
    """The `Timelines/Edit` body for requests of one plan and kind, in the shape BeProduct's
    SDKs send: `[{id: row, timelines: [{id: item, status: {value}, rev: {value}, final:
    {value}, assignedTo: {add, remove}, shareWith: {add, remove}}]}]`. One entry per milestone:
    callers never put two requests for the same milestone in one body."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for req in requests:
        item: dict[str, Any] = {"id": req.milestone_id}
        for name in req.changes:
            value = req.wanted(name)
            if name == "status":
                item["status"] = {"value": STATUS_LABELS.get(value or "", value)}
            else:
                item[_EDIT_KEYS[name]] = {"value": None if value is None else f"{value}T00:00:00Z"}
        if req.assignees_add or req.assignees_remove:
            item["assignedTo"] = {
                "add": list(req.assignees_add),
                "remove": list(req.assignees_remove),
            }
        if req.share_add or req.share_remove:
            item["shareWith"] = {"add": list(req.share_add), "remove": list(req.share_remove)}
        rows.setdefault(req.record_id, []).append(item)
    return [{"id": record, "timelines": items} for record, items in rows.items()]


def find_item(row: dict[str, Any] | None, milestone_id: str) -> dict[str, Any] | None:
    """The timeline item of a REST row with this id, if the row has it."""
    if not isinstance(row, dict):
        return None
    for item in row.get("timelines") or []:
        if isinstance(item, dict) and str(item.get("id", "")).lower() == milestone_id.lower():
            return item
    return None


def _ids(people: Any, key: str) -> frozenset[str]:
    if not isinstance(people, list):
        return frozenset()
    out = set()
    for p in people:
        raw = p.get(key, p.get("id")) if isinstance(p, dict) else p
        found = uuid_text(raw)
        if found is not None:
            out.add(found)
    return frozenset(out)


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()

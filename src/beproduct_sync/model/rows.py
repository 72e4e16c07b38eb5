"""Row sets: what one event (or one API row) writes, typed, with source versions. Pure.

Every row group carries the *source version* of the event that produced it. The writer writes a
group only when its version is strictly greater than the stored one, which makes applying a set
of events order-independent and idempotent. A group an event does not know (e.g. a style's
colour, seen through an OnChange) gets version None, so it claims nothing and a later-arriving
older OnCreate still fills it.

The TypedDicts keep the three builders of records and milestones (webhooks in from_webhook,
REST rows and reconcile's retirements in from_rest) in step with the SQL that reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, NotRequired, TypedDict

from beproduct_sync.model.times import SourceTime

Kind = Literal["style", "material"]
KINDS: tuple[Kind, ...] = ("style", "material")


def master_folder(kind: Kind) -> str:
    """BeProduct's MasterFolder name of a kind of row ('Style' or 'Material')."""
    return "Material" if kind == "material" else "Style"


class PlanRow(TypedDict):
    """The plan an event or API row belongs to (details come from enrichment)."""

    id: str
    folder_id: str | None


class TemplateRow(TypedDict):
    """A milestone definition: a stub (only its id is known, `source_version` None) or the
    definition a webhook's timeLineSchema or the API carried."""

    id: str
    plan_id: str
    master_folder: str
    source_version: str | None
    name: NotRequired[str | None]
    short_name: NotRequired[str | None]
    department: NotRequired[str | None]
    page_name: NotRequired[str | None]
    raw_payload: NotRequired[Any]
    # The schedule rule, when the source carried one (`rule_version` set): see
    # webhook.TimelineSchema. Versioned on its own, so a source without rules never erases one.
    days: NotRequired[int | None]
    direction: NotRequired[str | None]  # timeLineSchema.When: AFTER / BEFORE
    act_desc: NotRequired[str | None]
    calendar: NotRequired[str | None]
    calendar_days: NotRequired[int | None]
    revised_days: NotRequired[int | None]
    group_task: NotRequired[str | None]
    share_when: NotRequired[str | None]
    default_status: NotRequired[str | None]
    rule_version: NotRequired[str | None]


class RecordRow(TypedDict):
    """A style- (or material-) in-plan record, in its versioned groups (apply_record.sql):
    header, record (modified time, raw record), colour, size, supplier, lifecycle."""

    id: str
    plan_id: str
    company_id: str | None
    style_header_id: str | None
    style_number: str | None
    style_name: str | None
    header_folder_id: str | None
    header_folder_name: str | None
    color_id: str | None
    color_name: str | None
    color_number: str | None
    size: str | None
    supplier_name: str | None
    suppliers: Any
    modified_at: str | None
    modified_by: str | None
    active: bool
    deleted_at: str | None
    source_updated_at: str
    raw_payload: Any
    header_version: str | None
    record_version: str | None
    color_version: str | None
    size_version: str | None
    supplier_version: str | None
    lifecycle_version: str | None


class AssigneeRow(TypedDict):
    """One (milestone, assignee) pair."""

    assignee_id: str
    assignee_name: str | None


class MilestoneRow(TypedDict):
    """A milestone instance with its assignment set (apply_milestones.sql)."""

    id: str
    parent_id: str
    template_item_id: str | None
    status: str | None
    status_label: str | None
    plan_date: str | None
    due_date: str | None
    rev_date: str | None
    final_date: str | None
    plan_at: str | None
    due_at: str | None
    rev_at: str | None
    final_at: str | None
    late: bool | None
    submits_quantity: int | None
    shared_with: list[Any]
    assigned_to: list[Any]
    assignees: list[AssigneeRow]
    source_updated_at: str
    raw_payload: Any
    source_version: str


@dataclass(frozen=True)
class Notice:
    """Something applied but worth a person's look (lands in ops.import_errors as a warning)."""

    entity_id: str
    message: str


@dataclass(frozen=True)
class RowSet:
    """Everything one event (or API row) writes, grouped by table, in foreign-key order."""

    kind: Kind
    folder_ids: list[str]
    plan: PlanRow
    templates: list[TemplateRow]
    record: RecordRow
    milestones: list[MilestoneRow]
    notices: list[Notice] = field(default_factory=list)


STATUSES: dict[str, str] = {
    "notstarted": "NOT_STARTED",
    "inprogress": "IN_PROGRESS",
    "approved": "APPROVED",
    "approvedwithcorrections": "APPROVED_WITH_CORRECTIONS",
    "rejected": "REJECTED",
    "complete": "COMPLETE",
    "waitingon": "WAITING_ON",
    "na": "NA",
}
_STATUS_NOISE = re.compile(r"[\s\-_/]+")


def status_key(label: str | None) -> str | None:
    """A status text with case, spaces, dashes, underscores and slashes removed: two texts with
    the same key are the same status ("Approved with Corrections", "approved-with-corrections")."""
    return None if label is None else _STATUS_NOISE.sub("", label).lower()


@lru_cache(maxsize=1024)  # a handful of labels, mapped once per milestone of a backfill
def map_status(label: str | None) -> str | None:
    """BeProduct's status text → ops.timeline_status; None when empty or unknown.

    Case, spaces, dashes, underscores (and the slash of "N/A") are ignored.
    """
    key = status_key(label)
    return None if key is None else STATUSES.get(key)


def status_notice(entity_id: str, label: str | None, status: str | None) -> Notice | None:
    """The warning for a status text that maps to nothing (an empty text is not worth one)."""
    if status is None and label is not None and label.strip():
        return Notice(entity_id, f"unknown status {label!r} kept as status_label; status NULL")
    return None


def source_version(time: SourceTime, body_digest: bytes) -> str:
    """The version of an event or API row: its 100-ns ticks, then 6 digits of the body hash.

    Returned as decimal text (it exceeds 64 bits); stored as numeric. Two different events with
    the same timestamp are ordered by hash, so the outcome never depends on arrival order.
    """
    return str(time.ticks * 1_000_000 + int.from_bytes(body_digest[:4], "big") % 1_000_000)


def people(entries: list[Any]) -> list[Any]:
    """A user list in one shape, `{value: name, code: id}`, whether it came from a webhook
    (`value`/`code`) or the REST API (`name`/`id`); unknown entries are kept as they are."""
    out: list[Any] = []
    for e in entries:
        if isinstance(e, dict):
            name = e.get("value", e.get("name", e.get("userName")))
            out.append({"value": name, "code": e.get("code", e.get("id"))})
        else:
            out.append(e)
    return out

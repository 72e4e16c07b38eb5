"""Tracking event → the rows to upsert. Pure functions, the heart of the sync; no I/O.

Every row group carries the *source version* of the event that produced it. The store writes a
group only when its version is strictly greater than the stored one, which makes applying a set
of events order-independent and idempotent. A group an event does not know (e.g. a style's
colour, seen through an OnChange) gets version None, so it claims nothing and a later-arriving
older OnCreate still fills it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import tzinfo
from functools import lru_cache
from typing import Any, Literal
from uuid import UUID

from beproduct_sync.model.coerce import uuid_text
from beproduct_sync.model.webhook import Milestone, Record, SourceTime, TrackingEvent

Kind = Literal["style", "material"]

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


def map_status(label: str | None) -> str | None:
    """BeProduct's status text → ops.timeline_status; None when empty or unknown.

    Case, spaces, dashes, underscores (and the slash of "N/A") are ignored.
    """
    if label is None:
        return None
    return STATUSES.get(_STATUS_NOISE.sub("", label).lower())


def source_version(time: SourceTime, body_digest: bytes) -> str:
    """The event's version: its 100-ns ticks, then 6 digits of the body hash as a tie-break.

    Returned as decimal text (it exceeds 64 bits); stored as numeric. Two different events with
    the same timestamp are ordered by hash, so the outcome never depends on arrival order.
    """
    return str(time.ticks * 1_000_000 + int.from_bytes(body_digest[:4], "big") % 1_000_000)


def body_digest(canonical_body: bytes) -> bytes:
    """SHA-256 of the canonical body: the dedupe key and the version tie-break."""
    return hashlib.sha256(canonical_body).digest()


@dataclass(frozen=True)
class Warning_:
    """Something applied but worth a human's look (lands in ops.import_errors as a warning)."""

    entity_id: str
    message: str


@dataclass(frozen=True)
class RowSet:
    """Everything one event writes, grouped by table, in foreign-key order."""

    kind: Kind
    folder_ids: list[str]
    plan: dict[str, Any]
    templates: list[dict[str, Any]]
    record: dict[str, Any]
    milestones: list[dict[str, Any]]
    warnings: list[Warning_] = field(default_factory=list)


def _s(value: UUID | None) -> str | None:
    return str(value) if value is not None else None


@lru_cache(maxsize=16384)
def _date_of(ticks: int, zone: tzinfo) -> str | None:
    try:
        return SourceTime(ticks, "").datetime.astimezone(zone).date().isoformat()
    except (OverflowError, ValueError):  # .NET's MinValue / MaxValue shifted past year 1 / 9999
        return None


@lru_cache(maxsize=16384)
def _iso_of(ticks: int) -> str | None:
    try:
        return SourceTime(ticks, "").datetime.isoformat()
    except ValueError:
        return None


def calendar_date(time: SourceTime | None, zone: tzinfo) -> str | None:
    """The calendar day of `time` in `zone`, ISO formatted (cached: dates repeat a lot)."""
    return _date_of(time.ticks, zone) if time else None


def iso(time: SourceTime | None) -> str | None:
    """`time` as ISO-8601 with offset, at microsecond precision."""
    return _iso_of(time.ticks) if time else None


def people(entries: list[Any]) -> list[Any]:
    """A user list in one shape, `{value: name, code: id}`, whether it came from a webhook
    (`value`/`code`) or the REST API (`name`/`id`); unknown entries are kept as they are."""
    out: list[Any] = []
    for e in entries:
        if isinstance(e, dict):
            out.append(
                {
                    "value": e.get("value", e.get("name", e.get("userName"))),
                    "code": e.get("code", e.get("id")),
                }
            )
        else:
            out.append(e)
    return out


def _supplier_names(suppliers: list[Any]) -> str | None:
    names = []
    for s in suppliers:
        if isinstance(s, str):
            names.append(s)
        elif isinstance(s, dict):
            name = s.get("name") or s.get("Name") or s.get("value") or s.get("suggested_name")
            if name:
                names.append(str(name))
    return ", ".join(names) or None


def kind_of(event: TrackingEvent) -> Kind:
    """'material' for records whose MasterFolder is Material, else 'style'."""
    return "material" if event.master_folder.lower() == "material" else "style"


def milestone_row(
    m: Milestone, record_id: str, version: str, at: str, zone: tzinfo
) -> tuple[dict[str, Any], list[Warning_]]:
    """One milestone instance → its row (assignees included) and any warnings."""
    warnings = []
    status = map_status(m.status)
    if status is None and m.status not in (None, ""):
        warnings.append(
            Warning_(str(m.id), f"unknown status {m.status!r} kept as status_label; status NULL")
        )
    assignees = []
    for p in m.assigned_to:
        pid = uuid_text(p.code)
        if pid is None:
            warnings.append(Warning_(str(m.id), f"assignee {p.value!r} has no valid user id"))
            continue
        assignees.append({"assignee_id": pid, "assignee_name": p.value})
    row = {
        "id": str(m.id),
        "parent_id": record_id,
        "template_item_id": _s(m.timeline_id),
        "status": status,
        "status_label": m.status,
        "plan_date": calendar_date(m.project, zone),
        "due_date": calendar_date(m.due, zone),
        "rev_date": calendar_date(m.rev, zone),
        "final_date": calendar_date(m.final, zone),
        "plan_at": iso(m.project),
        "due_at": iso(m.due),
        "rev_at": iso(m.rev),
        "final_at": iso(m.final),
        "late": m.late,
        "submits_quantity": m.submits_quantity,
        "shared_with": people(m.share_with),
        "assigned_to": [p.model_dump() for p in m.assigned_to],
        "assignees": assignees,
        "source_updated_at": at,
        "raw_payload": m.raw,
        "source_version": version,
    }
    return row, warnings


def _record_row(event: TrackingEvent, rec: Record, version: str, at: str) -> dict[str, Any]:
    full = event.event_type != "OnChange"  # only creates and deletes carry the whole record
    color = rec.color or {}
    raw = {k: v for k, v in rec.raw.items() if k not in ("Timelines", "TimeLineItem")}
    modified_by = rec.modified_by or {}
    modifier = modified_by.get("user_name") or modified_by.get("userName")
    return {
        "id": str(event.record_id),
        "plan_id": str(event.plan_id),
        "company_id": _s(rec.company_id),
        "style_header_id": _s(event.header_id),
        "style_number": event.header_number,
        "style_name": event.header_name,
        "header_folder_id": _s(event.folder_id),
        "header_folder_name": event.folder_name,
        "color_id": (color.get("_id") or None) if full else None,
        "color_name": color.get("suggested_name") if full else None,
        "color_number": color.get("suggested_hex") if full else None,
        "size": rec.size if full else None,
        "supplier_name": _supplier_names(rec.supplier) if full else None,
        "suppliers": rec.supplier if full else None,
        "modified_at": iso(rec.modified_at) if full else None,
        "modified_by": modifier if full else None,
        "active": event.event_type != "OnDelete",
        "deleted_at": at if event.event_type == "OnDelete" else None,
        "source_updated_at": at,
        "raw_payload": raw,
        "header_version": version,
        "record_version": version if full else None,
        "lifecycle_version": version if full else None,
    }


def map_event(event: TrackingEvent, digest: bytes, zone: tzinfo) -> RowSet:
    """The rows one tracking event writes."""
    version = source_version(event.date, digest)
    at = event.date.datetime.isoformat()
    rec = event.record
    assert rec is not None  # parse_event guarantees it
    kind = kind_of(event)
    record_id = str(event.record_id)
    plan_id = str(event.plan_id)
    folder_id = _s(event.plan_folder_id)

    items = [rec.timeline_item] if event.event_type == "OnChange" else (rec.timelines or [])
    by_id: dict[str, dict[str, Any]] = {}
    warnings: list[Warning_] = []
    for m in items:
        if m is None:
            continue
        row, w = milestone_row(m, record_id, version, at, zone)
        by_id[row["id"]] = row  # a repeated instance id: the last entry wins, as in BeProduct
        warnings.extend(w)
    milestones = list(by_id.values())

    master = "Material" if kind == "material" else "Style"
    templates: dict[str, dict[str, Any]] = {}
    for row in milestones:
        tid = row["template_item_id"]
        if tid is not None:
            templates[tid] = {
                "id": tid,
                "plan_id": plan_id,
                "master_folder": master,
                "source_version": None,
            }
    if event.schema_ is not None:
        s = event.schema_
        templates[str(s.id)] = {
            "id": str(s.id),
            "plan_id": plan_id,
            "master_folder": s.link_folder or master,
            "name": s.task_description,
            "short_name": s.short_description,
            "department": s.department,
            "page_name": s.page,
            "raw_payload": s.raw,
            "source_version": version,
        }

    return RowSet(
        kind=kind,
        folder_ids=[folder_id] if folder_id else [],
        plan={
            "id": plan_id,
            "folder_id": folder_id,
            "folder_version": version if folder_id else None,
        },
        templates=sorted(templates.values(), key=lambda t: t["id"]),
        record=_record_row(event, rec, version, at),
        milestones=sorted(milestones, key=lambda r: r["id"]),
        warnings=warnings,
    )

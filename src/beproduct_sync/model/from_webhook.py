"""Tracking webhook event → the row set it writes. Pure; the heart of the sync.

An OnCreate or OnDelete carries the whole style-in-plan record with every milestone, and claims
every group of the record (see model.rows). An OnChange carries the record's header and usually
one milestone (its `TimeLineItem`); one made by BeProduct's Edit API may carry no milestone but
the record's own fields (colourway, size, supplier). So an OnChange claims the header group, its
milestone if any, and of the colour, size and supplier groups exactly those whose field it
carries (`Color`, `Size`, `Supplier` present in `data.after`); never the rest of the record
(modified time, raw record) or the lifecycle group, so an older OnCreate arriving later still
fills what the OnChange did not say.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any
from uuid import UUID

from beproduct_sync.model.coerce import uuid_str, uuid_text
from beproduct_sync.model.rows import (
    AssigneeRow,
    Kind,
    MilestoneRow,
    Notice,
    RecordRow,
    RowSet,
    TemplateRow,
    map_status,
    master_folder,
    people,
    source_version,
    status_notice,
)
from beproduct_sync.model.times import calendar_date, iso
from beproduct_sync.model.webhook import EventType, Milestone, Record, TrackingEvent


def _s(value: UUID | None) -> str | None:
    return uuid_str(value) if value is not None else None


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
) -> tuple[MilestoneRow, list[Notice]]:
    """One milestone instance → its row (assignees included) and any notices."""
    notices: list[Notice] = []
    mid = uuid_str(m.id)
    status = map_status(m.status)
    unknown = status_notice(mid, m.status, status)
    if unknown is not None:
        notices.append(unknown)
    assignees: list[AssigneeRow] = []
    for p in m.assigned_to:
        pid = uuid_text(p.code)
        if pid is None:
            notices.append(Notice(mid, f"assignee {p.value!r} has no valid user id"))
            continue
        assignees.append({"assignee_id": pid, "assignee_name": p.value})
    row: MilestoneRow = {
        "id": mid,
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
        "assigned_to": [{"value": p.value, "code": p.code} for p in m.assigned_to],
        "assignees": assignees,
        "source_updated_at": at,
        "raw_payload": m.raw,
        "source_version": version,
    }
    return row, notices


def _carried(rec: Record, full: bool) -> tuple[bool, bool, bool]:
    """Whether an event claims the colour, size and supplier groups: a create or delete always
    (it carries the whole record), an OnChange only for the fields present in its record."""
    if full:
        return True, True, True
    raw = rec.raw
    color = "Color" in raw and (raw["Color"] is None or isinstance(raw["Color"], dict))
    supplier = "Supplier" in raw and (raw["Supplier"] is None or isinstance(raw["Supplier"], list))
    return color, "Size" in raw, supplier


def record_row(event: TrackingEvent, rec: Record, version: str, at: str) -> RecordRow:
    """The style-in-plan record an event leaves behind."""
    full = event.event_type != EventType.ON_CHANGE  # only creates and deletes carry it whole
    has_color, has_size, has_supplier = _carried(rec, full)
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
        "color_id": (color.get("_id") or None) if has_color else None,
        "color_name": color.get("suggested_name") if has_color else None,
        "color_number": color.get("suggested_hex") if has_color else None,
        "size": rec.size if has_size else None,
        "supplier_name": _supplier_names(rec.supplier) if has_supplier else None,
        "suppliers": rec.supplier if has_supplier else None,
        "modified_at": iso(rec.modified_at) if full else None,
        "modified_by": modifier if full else None,
        "active": event.event_type != EventType.ON_DELETE,
        "deleted_at": at if event.event_type == EventType.ON_DELETE else None,
        "source_updated_at": at,
        "raw_payload": raw,
        "header_version": version,
        "record_version": version if full else None,
        "color_version": version if has_color else None,
        "size_version": version if has_size else None,
        "supplier_version": version if has_supplier else None,
        "lifecycle_version": version if full else None,
    }


def map_event(event: TrackingEvent, body_digest: bytes, zone: tzinfo) -> RowSet:
    """The rows one tracking event writes."""
    version = source_version(event.date, body_digest)
    at = event.date.datetime.isoformat()
    rec = event.record
    assert rec is not None  # parse_event guarantees it
    kind = kind_of(event)
    record_id = uuid_str(event.record_id)
    plan_id = uuid_str(event.plan_id)
    folder_id = _s(event.plan_folder_id)

    on_change = event.event_type == EventType.ON_CHANGE
    items = [rec.timeline_item] if on_change else (rec.timelines or [])
    by_id: dict[str, MilestoneRow] = {}
    notices = [Notice(s.entity_id or record_id, s.message) for s in event.skipped]
    for m in items:
        if m is None:
            continue
        row, found = milestone_row(m, record_id, version, at, zone)
        by_id[row["id"]] = row  # a repeated instance id: the last entry wins, as in BeProduct
        notices.extend(found)
    milestones = list(by_id.values())

    master = master_folder(kind)
    templates: dict[str, TemplateRow] = {}
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
        # The definition belongs to the row's kind (its MasterFolder); LinkFolder names the
        # folder of the page the milestone links to, not the kind of row.
        templates[str(s.id)] = {
            "id": str(s.id),
            "plan_id": plan_id,
            "master_folder": master,
            "name": s.task_description,
            "short_name": s.short_description,
            "department": s.department,
            "page_name": s.page,
            "raw_payload": s.raw,
            "source_version": version,
        }
        if s.has_rule:
            t = templates[str(s.id)]
            t["days"] = s.days
            t["direction"] = s.direction
            t["act_desc"] = str(s.act_desc) if s.act_desc else None
            t["calendar"] = s.calendar
            t["calendar_days"] = s.calendar_days
            t["revised_days"] = s.revised_days
            t["group_task"] = s.group_task
            t["share_when"] = s.share_when
            t["default_status"] = s.default_status
            t["rule_version"] = version

    return RowSet(
        kind=kind,
        folder_ids=[folder_id] if folder_id else [],
        plan={"id": plan_id, "folder_id": folder_id},
        templates=sorted(templates.values(), key=lambda t: t["id"]),
        record=record_row(event, rec, version, at),
        milestones=sorted(milestones, key=lambda r: r["id"]),
        notices=notices,
    )

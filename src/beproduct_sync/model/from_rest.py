"""BeProduct REST timeline rows (camelCase) → the same row sets webhooks produce. Pure.

Backfill and reconciliation write through the same versioned upserts as webhooks, so an API
snapshot and the webhook stream can interleave in any order. A REST row's version is its
`modifiedAt` (BeProduct's time of the record's last change), so a snapshot never overwrites a
webhook that happened after that change; rows without `modifiedAt` use `fallback` (the caller's
choice: the snapshot's start time).
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from beproduct_sync.model.body import canonical, digest
from beproduct_sync.model.coerce import uuid_text
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
from beproduct_sync.model.times import SourceTime, date_and_instant, iso, lenient_time


def _str(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def row_version(
    row: dict[str, Any], fallback: SourceTime, force: SourceTime | None = None
) -> tuple[str, SourceTime]:
    """The version of a REST row and the time it stands for (`force` overrides modifiedAt)."""
    at = force or lenient_time(row.get("modifiedAt")) or fallback
    return source_version(at, digest(canonical(row))), at


def _milestone(
    m: dict[str, Any], parent: str, version: str, at: str, zone: tzinfo, notices: list[Notice]
) -> MilestoneRow:
    label = _str(m.get("status"))
    status = map_status(label)
    mid = str(m["id"])
    unknown = status_notice(mid, label, status)
    if unknown is not None:
        notices.append(unknown)
    assigned = people(m.get("assignedTo") or [])
    assignees: list[AssigneeRow] = [
        {"assignee_id": uid, "assignee_name": a["value"]}
        for a in assigned
        if isinstance(a, dict) and (uid := uuid_text(a.get("code"))) is not None
    ]
    plan_date, plan_at = date_and_instant(m.get("plan"), zone)
    due_date, due_at = date_and_instant(m.get("due"), zone)
    rev_date, rev_at = date_and_instant(m.get("rev"), zone)
    final_date, final_at = date_and_instant(m.get("final"), zone)
    return {
        "id": mid,
        "parent_id": parent,
        "template_item_id": _str(m.get("timelineId")),
        "status": status,
        "status_label": label,
        "plan_date": plan_date,
        "due_date": due_date,
        "rev_date": rev_date,
        "final_date": final_date,
        "plan_at": plan_at,
        "due_at": due_at,
        "rev_at": rev_at,
        "final_at": final_at,
        "late": m.get("late"),
        "submits_quantity": m.get("submitsQuantity"),
        "shared_with": people(m.get("shareWith") or []),
        "assigned_to": assigned,
        "assignees": assignees,
        "source_updated_at": at,
        "raw_payload": m,
        "source_version": version,
    }


def map_api_row(
    row: dict[str, Any],
    *,
    plan_id: str,
    folder_id: str | None,
    kind: Kind,
    zone: tzinfo,
    fallback: SourceTime,
    force: SourceTime | None = None,
    versioned: tuple[str, SourceTime] | None = None,
) -> RowSet:
    """One `Style/Timeline` (or `Material/Timeline`) row of a plan → its row set.

    `force` versions the row at that time instead of its modifiedAt: reconciliation uses its
    snapshot time so the API's truth replaces drifted data older than the snapshot.
    `versioned` is `row_version(row, fallback, force)` when the caller has it already (hashing
    a row's canonical form is a good part of mapping it).
    """
    version, at_time = versioned or row_version(row, fallback, force)
    at = at_time.datetime.isoformat()
    rid = str(row["id"])
    header = row.get("header") or {}
    header_folder = header.get("folder") or {}
    supplier = row.get("supplier") or {}
    suppliers = row.get("suppliers") or ([supplier] if supplier else [])
    names = [str(s.get("name")) for s in suppliers if isinstance(s, dict) and s.get("name")]
    modified_by = row.get("modifiedBy") or {}
    notices: list[Notice] = []
    milestones = {
        str(m["id"]): _milestone(m, rid, version, at, zone, notices)
        for m in row.get("timelines") or []
        if isinstance(m, dict) and m.get("id")
    }
    master = master_folder(kind)
    templates: dict[str, TemplateRow] = {
        t: {"id": t, "plan_id": plan_id, "master_folder": master, "source_version": None}
        for t in (m["template_item_id"] for m in milestones.values())
        if t
    }
    record: RecordRow = {
        "id": rid,
        "plan_id": plan_id,
        "company_id": None,
        "style_header_id": _str(header.get("id")),
        "style_number": header.get("headerNumber"),
        "style_name": header.get("headerName"),
        "header_folder_id": _str(header_folder.get("id")),
        "header_folder_name": header_folder.get("name"),
        "color_id": _str(row.get("colorId")),
        "color_name": row.get("colorName"),
        "color_number": _str(row.get("colorNumber")),
        "size": row.get("size"),
        "supplier_name": ", ".join(names) or None,
        "suppliers": suppliers,
        "modified_at": iso(lenient_time(row.get("modifiedAt"))),
        "modified_by": modified_by.get("name") if isinstance(modified_by, dict) else None,
        "active": not bool(row.get("isArchived")),
        "deleted_at": None,
        "source_updated_at": at,
        "raw_payload": {k: v for k, v in row.items() if k != "timelines"},
        "header_version": version,
        "record_version": version,
        "color_version": version,
        "size_version": version,
        "supplier_version": version,
        "lifecycle_version": version,
    }
    return RowSet(
        kind=kind,
        folder_ids=[folder_id] if folder_id else [],
        plan={"id": plan_id, "folder_id": folder_id},
        templates=sorted(templates.values(), key=lambda t: t["id"]),
        record=record,
        milestones=sorted(milestones.values(), key=lambda r: r["id"]),
        notices=notices,
    )


def retire_row(kind: Kind, plan_id: str, record_id: str, version: str, at: str) -> RowSet:
    """A row set that only soft-deletes a record (its lifecycle group), as an OnDelete would:
    reconcile's fix for a row BeProduct no longer has."""
    record: RecordRow = {
        "id": record_id,
        "plan_id": plan_id,
        "company_id": None,
        "style_header_id": None,
        "style_number": None,
        "style_name": None,
        "header_folder_id": None,
        "header_folder_name": None,
        "color_id": None,
        "color_name": None,
        "color_number": None,
        "size": None,
        "supplier_name": None,
        "suppliers": None,
        "modified_at": None,
        "modified_by": None,
        "active": False,
        "deleted_at": at,
        "source_updated_at": at,
        "raw_payload": None,
        "header_version": None,
        "record_version": None,
        "color_version": None,
        "size_version": None,
        "supplier_version": None,
        "lifecycle_version": version,
    }
    return RowSet(kind, [], {"id": plan_id, "folder_id": None}, [], record, [])

"""BeProduct REST rows (camelCase) → the same row sets webhooks produce. Pure; no I/O.

Backfill and reconciliation write through the same versioned upserts as webhooks, so an API
snapshot and the webhook stream can interleave in any order. A REST row's version is its
`modifiedAt` (BeProduct's time of the record's last change), so a snapshot never overwrites a
webhook that happened after that change; rows without `modifiedAt` use `fallback` (the caller's
choice: the snapshot's start time).
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

import orjson

from beproduct_sync.model.coerce import uuid_text
from beproduct_sync.model.from_webhook import (
    Kind,
    RowSet,
    Warning_,
    body_digest,
    calendar_date,
    iso,
    map_status,
    people,
    source_version,
)
from beproduct_sync.model.webhook import SourceTime, parse_time


def _str(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def _time(value: object) -> SourceTime | None:
    try:
        return parse_time(value)
    except ValueError:
        return None


def row_version(
    row: dict[str, Any], fallback: SourceTime, force: SourceTime | None = None
) -> tuple[str, SourceTime]:
    """The version of a REST row and the time it stands for (`force` overrides modifiedAt)."""
    at = force or _time(row.get("modifiedAt")) or fallback
    return source_version(at, body_digest(orjson.dumps(row, option=orjson.OPT_SORT_KEYS))), at


def _milestone(
    m: dict[str, Any], parent: str, version: str, at: str, zone: tzinfo, warnings: list[Warning_]
) -> dict[str, Any]:
    label = _str(m.get("status"))
    status = map_status(label)
    mid = str(m["id"])
    if status is None and label is not None:
        warnings.append(
            Warning_(mid, f"unknown status {label!r} kept as status_label; status NULL")
        )
    assigned = people(m.get("assignedTo") or [])
    times = {k: _time(m.get(k)) for k in ("plan", "due", "rev", "final")}
    return {
        "id": mid,
        "parent_id": parent,
        "template_item_id": _str(m.get("timelineId")),
        "status": status,
        "status_label": label,
        "plan_date": calendar_date(times["plan"], zone),
        "due_date": calendar_date(times["due"], zone),
        "rev_date": calendar_date(times["rev"], zone),
        "final_date": calendar_date(times["final"], zone),
        "plan_at": iso(times["plan"]),
        "due_at": iso(times["due"]),
        "rev_at": iso(times["rev"]),
        "final_at": iso(times["final"]),
        "late": m.get("late"),
        "submits_quantity": m.get("submitsQuantity"),
        "shared_with": people(m.get("shareWith") or []),
        "assigned_to": assigned,
        "assignees": [
            {"assignee_id": uid, "assignee_name": a["value"]}
            for a in assigned
            if isinstance(a, dict) and (uid := uuid_text(a.get("code"))) is not None
        ],
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
) -> RowSet:
    """One `Style/Timeline` (or `Material/Timeline`) row of a plan → its row set.

    `force` versions the row at that time instead of its modifiedAt: reconciliation uses its
    snapshot time so the API's truth replaces drifted data older than the snapshot.
    """
    version, at_time = row_version(row, fallback, force)
    at = at_time.datetime.isoformat()
    rid = str(row["id"])
    header = row.get("header") or {}
    header_folder = header.get("folder") or {}
    supplier = row.get("supplier") or {}
    suppliers = row.get("suppliers") or ([supplier] if supplier else [])
    names = [str(s.get("name")) for s in suppliers if isinstance(s, dict) and s.get("name")]
    modified_by = row.get("modifiedBy") or {}
    warnings: list[Warning_] = []
    milestones = {
        str(m["id"]): _milestone(m, rid, version, at, zone, warnings)
        for m in row.get("timelines") or []
        if isinstance(m, dict) and m.get("id")
    }
    master = "Material" if kind == "material" else "Style"
    templates = {
        t: {"id": t, "plan_id": plan_id, "master_folder": master, "source_version": None}
        for t in (m["template_item_id"] for m in milestones.values())
        if t
    }
    record = {
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
        "modified_at": iso(_time(row.get("modifiedAt"))),
        "modified_by": modified_by.get("name") if isinstance(modified_by, dict) else None,
        "active": not bool(row.get("isArchived")),
        "deleted_at": None,
        "source_updated_at": at,
        "raw_payload": {k: v for k, v in row.items() if k != "timelines"},
        "header_version": version,
        "record_version": version,
        "lifecycle_version": version,
    }
    return RowSet(
        kind=kind,
        folder_ids=[folder_id] if folder_id else [],
        plan={"id": plan_id, "folder_id": folder_id},
        templates=sorted(templates.values(), key=lambda t: t["id"]),
        record=record,
        milestones=sorted(milestones.values(), key=lambda r: r["id"]),
        warnings=warnings,
    )

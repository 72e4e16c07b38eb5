"""Fake records → the REST API's camelCase JSON, and the filterable fields of each. Pure."""

from __future__ import annotations

from typing import Any

from beproduct_sync.testing.fake.filters import Getter
from beproduct_sync.testing.fake.model import (
    Folder,
    Milestone,
    MilestoneDef,
    Plan,
    Row,
    User,
    fmt_time,
)


def user(u: User | None) -> dict[str, Any] | None:
    """`{id, name}`."""
    return None if u is None else {"id": u.id, "name": u.name}


def folder(f: Folder) -> dict[str, Any]:
    """A `Tracking/Folders` entry."""
    return {
        "id": f.id,
        "name": f.name,
        "brand": f.brand,
        "active": f.active,
        "createdAt": fmt_time(f.created_at),
        "modifiedAt": fmt_time(f.modified_at),
    }


def definition(d: MilestoneDef) -> dict[str, Any]:
    """A milestone definition in a plan's `style.timelines` / `material.timelines`."""
    return {
        "id": d.id,
        "department": d.department,
        "actionDescription": d.action,
        "shortDescription": d.short,
        "pageName": d.page_name,
        "days": d.days,
        "when": "AFTER",
        "calendar": "DAYS",
        "groupTask": "NORMAL",
        "shareWhen": "ANY",
        "defaultStatus": d.default_status,
        "plan": fmt_time(d.plan_date),
    }


def plan(p: Plan) -> dict[str, Any]:
    """`Tracking/Plan/{id}`."""

    def section(kind: str) -> dict[str, Any]:
        return {
            "views": [{"id": f"{p.id}-{kind.lower()}-default", "name": "Default"}],
            "timelines": [definition(d) for d in p.defs(kind)],
        }

    return {
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "folderId": p.folder_id,
        "startDate": fmt_time(p.start),
        "endDate": fmt_time(p.end),
        "active": p.active,
        "createdAt": fmt_time(p.created_at),
        "modifiedAt": fmt_time(p.modified_at),
        "createdBy": user(p.created_by),
        "modifiedBy": user(p.modified_by),
        "style": section("Style"),
        "material": section("Material"),
    }


def plan_summary(p: Plan) -> dict[str, Any]:
    """A `Tracking/Plans` list entry (the plan without its sections)."""
    out = plan(p)
    del out["style"], out["material"]
    return out


def milestone(m: Milestone) -> dict[str, Any]:
    """A timeline item of a row (REST `plan` = webhook ProjectDate, `due` = DueDate)."""
    return {
        "id": m.id,
        "timelineId": m.timeline_id,
        "status": m.status,
        "plan": fmt_time(m.plan),
        "rev": fmt_time(m.rev),
        "final": fmt_time(m.final),
        "due": fmt_time(m.due),
        "assignedTo": [user(u) for u in m.assigned_to],
        "shareWith": [user(u) for u in m.share_with],
        "late": m.late,
        "submitsQuantity": m.submits_quantity,
        "page": {"name": m.page} if m.page else None,
    }


def row(r: Row) -> dict[str, Any]:
    """A `Style/Timeline` or `Material/Timeline` row."""
    return {
        "id": r.id,
        "colorId": r.color_id,
        "colorNumber": r.color_number,
        "colorName": r.color_name,
        "size": r.size,
        "supplier": user(r.supplier),
        "suppliers": [user(r.supplier)] if r.supplier else [],
        "modifiedAt": fmt_time(r.modified_at),
        "modifiedBy": user(r.modified_by),
        "header": {
            "id": r.header.id,
            "headerNumber": r.header.number,
            "headerName": r.header.name,
            "folder": {"id": r.header.folder_id, "name": r.header.folder_name},
        },
        "timelines": [milestone(m) for m in r.milestones],
        "isArchived": r.archived,
    }


def plan_fields(p: Plan) -> dict[str, Getter]:
    """What `Tracking/Plans` filters can test."""
    return {
        "Id": lambda: p.id,
        "Name": lambda: p.name,
        "FolderId": lambda: p.folder_id,
        "Active": lambda: p.active,
        "ModifiedAt": lambda: p.modified_at,
        "CreatedAt": lambda: p.created_at,
        "StartDate": lambda: p.start,
        "EndDate": lambda: p.end,
    }


def row_fields(r: Row) -> dict[str, Getter]:
    """What `Style/Timeline` and `Material/Timeline` filters can test."""
    return {
        "Id": lambda: r.id,
        "ModifiedAt": lambda: r.modified_at,
        "HeaderId": lambda: r.header.id,
        "HeaderNumber": lambda: r.header.number,
        "HeaderName": lambda: r.header.name,
        "ColorName": lambda: r.color_name,
        "ColorNumber": lambda: r.color_number,
        "Size": lambda: r.size,
        "IsArchived": lambda: r.archived,
    }

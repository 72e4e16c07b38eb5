"""Fake records → the REST API's camelCase JSON, and the filterable fields of each. Pure.

Shapes follow BeProduct's TypeScript SDK schemas (`src/schemas/tracking.ts`): folders without
`brand`, `shareWith` entries `{id, name, partnerType, country}`, `page` `{id, title, type}`,
rows with `fields[]` and `isArchived`; switches in `Behaviour` undo the adversarial parts.
"""

from __future__ import annotations

import re
import uuid
from functools import lru_cache
from typing import Any

from beproduct_sync.testing.fake.behaviour import Behaviour
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
from beproduct_sync.testing.fake.seed import DONE

# The same state, spelled as REST-side documents spell it (webhooks: "Approved with
# corrections", "NA").
REST_SPELLINGS = {"approvedwithcorrections": "Approved with Corrections", "na": "N/A"}
_NOISE = re.compile(r"[\s\-_/]+")
_DONE = {_NOISE.sub("", d).casefold() for d in DONE}


def user(u: User | None) -> dict[str, Any] | None:
    """`{id, name}`."""
    return None if u is None else {"id": u.id, "name": u.name}


def folder(f: Folder, b: Behaviour) -> dict[str, Any]:
    """A `Tracking/Folders` entry (`brand` only when the switch asks for it)."""
    out = {
        "id": f.id,
        "name": f.name,
        "description": f.description,
        "createdAt": fmt_time(f.created_at),
        "modifiedAt": fmt_time(f.modified_at),
        "createdBy": None,
        "modifiedBy": None,
        "active": f.active,
    }
    if b.folder_brand:
        out["brand"] = f.brand
    return out


@lru_cache(maxsize=1024)
def _key(text: str) -> str:
    return _NOISE.sub("", text).casefold()


def status(text: str, b: Behaviour) -> str:
    """A status label as REST spells it."""
    if not b.rest_status_spellings:
        return text
    return REST_SPELLINGS.get(_key(text), text)


def late(m: Milestone, b: Behaviour, now: int) -> bool:
    """REST's `late`: computed when read (due passed and not done, or due after plan)."""
    if not b.late_computed_on_read:
        return m.late
    if m.due is None:
        return False
    overdue = m.due < now and _key(m.status) not in _DONE
    return overdue or (m.plan is not None and m.due > m.plan)


def page_ref(name: str | None) -> dict[str, Any] | None:
    """An app page `{id, title, type}`."""
    if not name:
        return None
    return {"id": _page_id(name), "title": name, "type": "Form"}


@lru_cache(maxsize=1024)
def _page_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"beproduct-fake-page:{name}"))


def partner(u: User) -> dict[str, Any]:
    """A `shareWith` entry."""
    return {"id": u.id, "name": u.name, "partnerType": u.partner_type, "country": u.country}


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


def milestone(m: Milestone, b: Behaviour, now: int) -> dict[str, Any]:
    """A timeline item of a row (REST `plan` = webhook ProjectDate, `due` = DueDate)."""
    return {
        "id": m.id,
        "timelineId": m.timeline_id,
        "status": status(m.status, b),
        "plan": fmt_time(m.plan),
        "rev": fmt_time(m.rev),
        "final": fmt_time(m.final),
        "due": fmt_time(m.due),
        "assignedTo": [user(u) for u in m.assigned_to],
        "shareWith": [partner(u) for u in m.share_with],
        "late": late(m, b, now),
        "submitsQuantity": m.submits_quantity,
        "page": page_ref(m.page),
        "request": None,
    }


def _fields(r: Row) -> list[dict[str, Any]]:
    season = r.header.number[1:5] if r.kind == "Style" else None
    return [
        {"id": "season", "name": "Season", "value": season, "type": "Text", "required": False},
        {"id": "order", "name": "Order", "value": r.order, "type": "Number", "required": False},
    ]


def row(r: Row, b: Behaviour, now: int) -> dict[str, Any]:
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
        "timelines": [milestone(m, b, now) for m in r.milestones],
        "isArchived": r.archived,
        "fields": _fields(r),
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

"""Webhook bodies consistent with the fake's data, shaped exactly like BeProduct's real ones.

PascalCase inside `data`, camelCase on the envelope, `date` with 7 fractional digits and Z, and
`data.timelineId` = the style-in-plan record id (see the samples bundled with the package).
Only shapes seen in real bodies are generated: `Supplier` is `[]` as in every sample (its entry
shape is unknown), `timeLineSchema.Page` is null and `LinkFolder` "Style" (it names the linked
page's folder, not the row's kind). Status labels change case from event to event when
`Behaviour.label_case_drift` is on, as BeProduct's do over time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from beproduct_sync.testing.fake.model import Milestone, MilestoneDef, Row, User, fmt_time
from beproduct_sync.testing.fake.seed import SIZES
from beproduct_sync.testing.fake.world import Change, RowEdit, World


def _people(users: list[User]) -> list[dict[str, str]]:
    return [{"value": u.name, "code": u.id} for u in users]


def label(text: str, drift: bool, salt: str) -> str:
    """A status label as one event spells it: as stored, or (drifting) in sentence or title
    case, chosen by `salt` so the same event always reads the same."""
    if not drift:
        return text
    pick = hashlib.sha256(salt.encode()).digest()[0] % 3
    if pick == 1:
        return text[:1].upper() + text[1:].lower()
    if pick == 2:
        return text.title()
    return text


def milestone(m: Milestone, drift: bool = False, at: int = 0) -> dict[str, Any]:
    """A `Timelines[]` entry / `TimeLineItem` (`drift`: its label's case as of time `at`)."""
    return {
        "Id": m.id,
        "TimeLineId": m.timeline_id,
        "Status": label(m.status, drift, f"{m.id}:{at}"),
        "Rev": fmt_time(m.rev),
        "Final": fmt_time(m.final),
        "DueDate": fmt_time(m.due),
        "ProjectDate": fmt_time(m.plan),
        "AssignedTo": _people(m.assigned_to),
        "ShareWith": _people(m.share_with),
        "Late": m.late,
        "SubmitsQuantity": m.submits_quantity,
    }


def _base(world: World, row: Row) -> dict[str, Any]:
    return {
        "Id": row.id,
        "PlanId": row.plan_id,
        "CompanyId": world.company_id,
        "MasterFolder": row.kind,
        "HeaderId": row.header.id,
    }


def _color(row: Row) -> dict[str, Any]:
    return {
        "_id": row.color_id,
        "color_source_id": None,
        "suggested_name": row.color_name,
        "suggested_hex": row.color_number,
    }


def record(world: World, row: Row, at: int = 0) -> dict[str, Any]:
    """The full record of OnCreate `after` / OnDelete `before`, as of event time `at`."""
    drift = world.behaviour.label_case_drift
    return {
        **_base(world, row),
        "Color": _color(row),
        "Size": row.size,
        "StyleId": None,
        "StyleColor": {
            "_id": "",
            "color_source_id": None,
            "suggested_name": "NA",
            "suggested_hex": "NA",
        },
        "Supplier": [],
        "ModifiedAt": fmt_time(row.modified_at),
        "ModifiedBy": {"user_id": row.modified_by.id, "user_name": row.modified_by.name},
        "Timelines": [milestone(m, drift, at) for m in row.milestones],
        "Aggregates": None,
        "Order": row.order,
        "MarkedForDelete": False,
    }


def schema(d: MilestoneDef) -> dict[str, Any]:
    """`data.timeLineSchema` for a milestone definition."""
    return {
        "Plan": fmt_time(d.plan_date),
        "DueDate": None,
        "PlanDateOverride": None,
        "Id": d.id,
        "Department": d.department,
        "TaskDescription": d.action,
        "ShortDescription": d.short,
        "AssignedTo": [],
        "Page": None,
        "Days": d.gap,
        "GroupTask": "NORMAL",
        "LinkFolder": "Style",
        "Calendar": "DAYS",
        "CalendarDays": 0,
        "When": "AFTER",
        "ActDesc": d.anchor,
        "RevisedDays": 0,
        "ShareWhen": "ANY",
        "SharedPermission": "READ",
        "DefaultStatus": d.default_status,
        "ExternalShareWith": [],
        "AutoShareLinkedPage": False,
        "SyncWithGroupTask": False,
    }


def _envelope(
    world: World, event_type: str, row: Row, data: dict[str, Any], by: User, at: int
) -> dict[str, Any]:
    plan = world.plans.get(row.plan_id)
    return {
        "subscriptionId": None,
        "eventType": event_type,
        "objectType": "Header",
        "headerId": row.header.id,
        "headerNumber": row.header.number,
        "headerName": row.header.name,
        "folderId": row.header.folder_id,
        "folderName": row.header.folder_name,
        "applicationId": None,
        "applicationName": None,
        "pageId": None,
        "data": {
            **data,
            "planId": row.plan_id,
            "planFolderId": plan.folder_id if plan else None,
            "timelineId": row.id,
        },
        "user": {"id": by.id, "userName": by.name},
        "date": fmt_time(at),
    }


def on_create(world: World, row: Row, at: int | None = None) -> dict[str, Any]:
    """OnCreate for a row as it is now (dated just after its last modification)."""
    with world.lock:
        when = at if at is not None else world.clock.now()
        data = {"before": None, "after": record(world, row, when)}
        return _envelope(world, "OnCreate", row, data, row.modified_by, when)


def on_change(world: World, change: Change) -> dict[str, Any]:
    """OnChange for one milestone change (`data.after` carries no ModifiedAt, like BeProduct)."""
    with world.lock:
        row = change.row
        plan = world.plans.get(row.plan_id)
        defs = {d.id: d for d in plan.defs(row.kind)} if plan else {}
        definition = defs.get(change.after.timeline_id)
        # BeProduct stamps the event after the change it reports, never at the same instant.
        when = world.clock.now()
        drift = world.behaviour.label_case_drift
        data = {
            "before": {**_base(world, row), "TimeLineItem": milestone(change.before, drift, when)},
            "after": {**_base(world, row), "TimeLineItem": milestone(change.after, drift, when)},
            "timeLineSchema": schema(definition) if definition else None,
        }
        return _envelope(world, "OnChange", row, data, change.by, when)


def on_row_change(world: World, edit: RowEdit) -> dict[str, Any]:
    """OnChange for a row's own fields (colourway, size, supplier): the record without a
    `TimeLineItem`, carrying `Color`, `Size` and `Supplier` ([] as in every real sample)."""
    with world.lock:

        def side(row: Row) -> dict[str, Any]:
            return {**_base(world, row), "Color": _color(row), "Size": row.size, "Supplier": []}

        data = {"before": side(edit.before), "after": side(edit.after)}
        return _envelope(world, "OnChange", edit.after, data, edit.by, world.clock.now())


def on_attribute_change(
    world: World, row: Row, field: str, before: Any, after: Any
) -> dict[str, Any]:
    """A style attribute change, as a subscription misconfigured to send other modules' events
    delivers it: objectType "Header", `data.before/after` with header fields, the plans the
    style is in as `planIds`, and no `data.planId` (so not a tracking event)."""
    with world.lock:
        plan_ids = sorted({r.plan_id for r in world.rows(row.kind) if r.header.id == row.header.id})

        def side(value: Any) -> dict[str, Any]:
            return {
                "Id": row.header.id,
                "HeaderNumber": row.header.number,
                "HeaderName": row.header.name,
                field: value,
            }

        body = _envelope(world, "OnChange", row, {}, row.modified_by, world.clock.now())
        body["data"] = {"before": side(before), "after": side(after), "planIds": plan_ids}
        return body


def on_delete(
    world: World, row: Row, by: User | None = None, at: int | None = None
) -> dict[str, Any]:
    """OnDelete: `data.before` is the row's full last state."""
    with world.lock:
        when = at if at is not None else world.clock.now()
        data = {"before": record(world, row, when), "after": None}
        return _envelope(world, "OnDelete", row, data, by or row.modified_by, when)


def stream(world: World, count: int, *, kind: str = "Style") -> Iterator[dict[str, Any]]:
    """`count` bodies of a plausible day: OnCreate for every row first touched, then mostly
    milestone changes, some new rows, a few removals and a few row edits (a new size: an
    OnChange without TimeLineItem) — each mutation applied to `world`."""
    rng = world.rng  # the world's own generator keeps streams reproducible
    announced: set[str] = set()
    plans = list(world.plans)
    for _ in range(count):
        roll = rng.random()
        live = world.rows(kind)
        if roll < 0.08 or not live:
            row = world.add_row(rng.choice(plans), kind)
            announced.add(row.id)
            yield on_create(world, row)
        elif roll < 0.12 and len(live) > 1:
            removal = world.remove_row(rng.choice(live).id)
            yield on_delete(world, removal.row, removal.by, removal.at)
        else:
            row = rng.choice(live)
            if row.id not in announced:
                announced.add(row.id)
                yield on_create(world, row)
                continue
            if roll > 0.97:
                sizes = [s for s in SIZES if s != row.size]
                yield on_row_change(world, world.edit_row(row.id, size=rng.choice(sizes)))
                continue
            change = world.advance(row.id)
            yield on_change(world, change)

"""Generated histories of one tracking plan: webhooks and API rows about a few styles and
materials, each with what it stands for (a `reference.Sent`), for the order-independence
property (tests/integration/test_order_independence.py).

The generator renders bodies the way BeProduct writes them and writes down, separately, the
values they mean: an instant is drawn as 100-ns ticks and rendered as local wall-clock time
with a UTC offset (minutes included: +05:30, -03:30, +05:45) and 0 to 7 fractional digits, so a
parser that misreads an offset or a digit lands on another instant than the one written down.
Source times are drawn from a few close values, so ties and near ties are common. Histories
include OnChanges newer than an OnDelete, OnChanges that edit the row's own fields (colourway,
size, supplier: some of them, no milestone), records re-created under the same id, renamed
styles, materials, unknown and empty statuses, invalid assignee ids, and API rows from backfill
(versioned by `modifiedAt`, or the run's snapshot when it is missing) and reconcile (one tick
after that, as its fix writes them, plus retirements of rows BeProduct no longer lists,
versioned at the listing time).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from tests.helpers.reference import (
    EPOCH,
    RETIRE_TIE,
    TICKS_PER_SECOND,
    DefinitionFacts,
    MilestoneFacts,
    Sent,
    instant,
    tie_break,
    utc_day,
)

TICKS_PER_MINUTE = 60 * TICKS_PER_SECOND
TICKS_PER_DAY = 86_400 * TICKS_PER_SECOND
BASE = int((datetime(2025, 11, 6, tzinfo=UTC) - EPOCH).total_seconds()) * TICKS_PER_SECOND
# Event times: equal ones, one tick apart, the 7th digit apart, a second, a minute, hours.
EVENT_OFFSETS = (0, 1, 7, TICKS_PER_SECOND, TICKS_PER_SECOND + 3, TICKS_PER_MINUTE, 36_000 * 10**7)
# Times of day of milestone dates: midnight, the real sample's, and ones an offset moves to
# another day.
DAY_TIMES = (0, 679_250_708_456, 855_000_000_000, 78_000_000_000, 738_000_000_000)
ZONES = {
    "Z": 0,
    "+00:00": 0,
    "+05:30": 330,
    "-03:30": -210,
    "+05:45": 345,
    "-09:30": -570,
    "+14:00": 840,
    "-11:00": -660,
    "+0530": 330,
    "-0330": -210,
}
# Status texts and the enum value each must map to (None: unknown or empty).
LABELS: dict[str | None, str | None] = {
    "Not Started": "NOT_STARTED",
    "in progress": "IN_PROGRESS",
    "Approved": "APPROVED",
    "Approved with Corrections": "APPROVED_WITH_CORRECTIONS",
    "approved-with-corrections": "APPROVED_WITH_CORRECTIONS",
    "Rejected": "REJECTED",
    "COMPLETE": "COMPLETE",
    "Waiting_On": "WAITING_ON",
    "N/A": "NA",
    "NA": "NA",
    "On Hold": None,
    "": None,
    "  ": None,
    None: None,
}

PLAN_ID = str(uuid.UUID(int=0x51))
PLAN_FOLDER_ID = str(uuid.UUID(int=0x52))
COMPANY_ID = str(uuid.UUID(int=0xC0))
MASTERS = {
    "style": ("66f377be-d3d6-4e42-b50a-b46f4e156191", "Style"),
    "material": (str(uuid.UUID(int=0x4D)), "Material"),
}
TEMPLATES = {
    "style": tuple(str(uuid.UUID(int=0x7000 + i)) for i in range(3)),
    "material": tuple(str(uuid.UUID(int=0x7100 + i)) for i in range(2)),
}


@dataclass(frozen=True)
class Person:
    """A BeProduct user as events name them; `valid` when the id is a UUID."""

    name: str
    id: str
    valid: bool = True


PEOPLE = (
    Person("dana", str(uuid.UUID(int=0xABC1))),
    Person("chrisk", "875fe554-cd04-430d-a9a4-f95c27659293"),
    Person("Ana Lúcia", str(uuid.UUID(int=0xABC3))),
    Person("ghost", "not-a-user-id", valid=False),
)
SUPPLIERS: tuple[tuple[list[Any], str | None], ...] = (
    ([], None),
    ([{"name": "ACME"}], "ACME"),
    ([{"Name": "Knit Co", "id": "k1"}, {"name": "ACME"}], "Knit Co, ACME"),
    (["Plain Supplier"], "Plain Supplier"),
)


@dataclass(frozen=True)
class History:
    """What a property example applies, and the times API rows without their own take:
    the snapshot (rows without modifiedAt) and reconcile's listing time (retirements)."""

    sent: tuple[Sent, ...]
    fallback_ticks: int
    reconcile_ticks: int


def render(ticks: int, zone: str, digits: int) -> str:
    """`ticks` as BeProduct-style text: local wall-clock time for the offset `zone`."""
    whole, frac = divmod(ticks, TICKS_PER_SECOND)
    local = EPOCH + timedelta(seconds=whole, minutes=ZONES[zone])
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        assert not f"{frac:07d}"[digits:].strip("0"), "the instant needs more digits"
        text += "." + f"{frac:07d}"[:digits]
    else:
        assert frac == 0
    return text + zone


def stamp(draw: st.DrawFn, ticks: int) -> str:
    """`ticks` rendered with a drawn offset and as many fractional digits as drawn (enough)."""
    needed = len(f"{ticks % TICKS_PER_SECOND:07d}".rstrip("0"))
    return render(ticks, draw(st.sampled_from(sorted(ZONES))), draw(st.integers(needed, 7)))


def _day(draw: st.DrawFn) -> int | None:
    if draw(st.integers(0, 3)) == 0:
        return None
    return BASE + draw(st.integers(-2, 40)) * TICKS_PER_DAY + draw(st.sampled_from(DAY_TIMES))


@dataclass(frozen=True)
class _State:
    id: str
    template: str
    label: str | None
    dates: dict[str, int | None]  # plan, due, rev, final
    late: bool | None
    submits: int | None
    assigned: tuple[Person, ...]
    shared: tuple[Person, ...]


def _state(draw: st.DrawFn, mid: str, template: str) -> _State:
    return _State(
        id=mid,
        template=template,
        label=draw(st.sampled_from(list(LABELS))),
        dates={k: _day(draw) for k in ("plan", "due", "rev", "final")},
        late=draw(st.sampled_from([True, False, None])),
        submits=draw(st.sampled_from([0, 2, None])),
        assigned=tuple(draw(st.lists(st.sampled_from(PEOPLE), max_size=3, unique=True))),
        shared=tuple(draw(st.lists(st.sampled_from(PEOPLE[:3]), max_size=2, unique=True))),
    )


def _facts(s: _State, raw: dict[str, Any], label: str | None) -> MilestoneFacts:
    cols: dict[str, Any] = {
        "template_item_id": s.template,
        "status": LABELS[s.label],
        "status_label": label,
        "late": s.late,
        "submits_quantity": s.submits,
        "shared_with": [{"value": p.name, "code": p.id} for p in s.shared],
        "assigned_to": [{"value": p.name, "code": p.id} for p in s.assigned],
        "raw_payload": raw,
    }
    for k, ticks in s.dates.items():
        cols[f"{k}_date"] = utc_day(ticks) if ticks is not None else None
        cols[f"{k}_at"] = instant(ticks) if ticks is not None else None
    return MilestoneFacts(s.id, cols, {p.id: p.name for p in s.assigned if p.valid})


def _notices(s: _State, webhook: bool) -> list[str]:
    """Who gets a warning: an unknown (not empty) status text; in a webhook, each assignee
    without a valid user id too (API rows drop those silently)."""
    out = []
    if LABELS[s.label] is None and s.label is not None and s.label.strip():
        out.append(s.id)
    if webhook:
        out.extend(s.id for p in s.assigned if not p.valid)
    return out


Milestone = tuple[dict[str, Any], MilestoneFacts, list[str]]


def _webhook_milestone(draw: st.DrawFn, s: _State) -> Milestone:
    text = {k: stamp(draw, t) if t is not None else None for k, t in s.dates.items()}
    raw = {
        "Id": s.id,
        "TimeLineId": s.template,
        "Status": s.label,
        "Rev": text["rev"],
        "Final": text["final"],
        "DueDate": text["due"],
        "ProjectDate": text["plan"],
        "AssignedTo": [{"value": p.name, "code": p.id} for p in s.assigned],
        "ShareWith": [{"value": p.name, "code": p.id} for p in s.shared],
        "Late": s.late,
        "SubmitsQuantity": s.submits,
    }
    return raw, _facts(s, raw, s.label), _notices(s, webhook=True)


def _rest_milestone(draw: st.DrawFn, s: _State) -> Milestone:
    text = {k: stamp(draw, t) if t is not None else None for k, t in s.dates.items()}
    raw = {
        "id": s.id,
        "timelineId": s.template,
        "status": s.label,
        "plan": text["plan"],
        "rev": text["rev"],
        "final": text["final"],
        "due": text["due"],
        "assignedTo": [{"id": p.id, "name": p.name} for p in s.assigned],
        "shareWith": [{"id": p.id, "name": p.name, "partnerType": "Vendor"} for p in s.shared],
        "late": s.late,
        "submitsQuantity": s.submits,
        "page": draw(st.sampled_from([None, {"id": "p1", "title": "Tech Pack", "type": "x"}])),
    }
    # The API's "" status is no text at all; any other text is kept as sent.
    return raw, _facts(s, raw, s.label or None), _notices(s, webhook=False)


@dataclass(frozen=True)
class _Item:
    """A style or material in the plan: one header, possibly renamed, re-created or not."""

    kind: str
    header_id: str
    names: tuple[tuple[str, str], ...]


def _record_fields(draw: st.DrawFn) -> dict[str, Any]:
    supplier, names = draw(st.sampled_from(SUPPLIERS))
    return {
        "color": draw(
            st.sampled_from(
                [
                    ("52e8403c-7084-432c-a423-452924063016", "STINGRAY", "030"),
                    ("", "NA", "NA"),
                    (str(uuid.UUID(int=0xC01)), "BLACK", "001"),
                ]
            )
        ),
        "size": draw(st.sampled_from(["M", "NA", None])),
        "supplier": (supplier, names),
        "modified": draw(st.sampled_from([None, BASE - 3, BASE - 86_400 * TICKS_PER_SECOND])),
        "modifier": draw(st.sampled_from(["Natalie.James", "dana"])),
    }


def _color(color: tuple[str, str, str | None]) -> dict[str, Any]:
    return {
        "_id": color[0],
        "color_source_id": None,
        "suggested_name": color[1],
        "suggested_hex": color[2],
    }


def _row_edit(f: dict[str, Any], carried: set[str]) -> dict[str, Any]:
    """The fields a row edit's record carries."""
    every = {"Color": _color(f["color"]), "Size": f["size"], "Supplier": f["supplier"][0]}
    return {k: v for k, v in every.items() if k in carried}


def webhook(draw: st.DrawFn, event_type: str, item: _Item, rid: str, mids: tuple[str, ...]) -> Sent:
    """An OnCreate, OnChange or OnDelete about record `rid`."""
    ticks = BASE + draw(st.sampled_from(EVENT_OFFSETS))
    kind = item.kind
    master_id, master_name = MASTERS[kind]
    number, name = draw(st.sampled_from(item.names))
    templates = TEMPLATES[kind]
    states = [_state(draw, m, templates[i]) for i, m in enumerate(mids)]
    short = {
        "Id": rid,
        "PlanId": PLAN_ID,
        "CompanyId": COMPANY_ID,
        "MasterFolder": master_name,
        "HeaderId": item.header_id,
    }
    data: dict[str, Any] = {"planId": PLAN_ID, "planFolderId": PLAN_FOLDER_ID, "timelineId": rid}
    record: dict[str, Any] | None = None
    definition: DefinitionFacts | None = None
    milestones: tuple[MilestoneFacts, ...]
    notices: list[str]
    if event_type == "OnChange" and draw(st.integers(0, 3)) == 0:
        # A row edit (BeProduct's Edit API): no TimeLineItem; some of the row's own fields.
        carried = draw(st.sets(st.sampled_from(["Color", "Size", "Supplier"]), min_size=1))
        f = _record_fields(draw)
        data["before"] = {**short, **_row_edit(_record_fields(draw), carried)}
        data["after"] = {**short, **_row_edit(f, carried)}
        milestones, notices = (), []
        raw: Any = data["after"]
        record = {}
        if "Color" in carried:
            color_id, color_name, color_hex = f["color"]
            record.update(color_id=color_id or None, color_name=color_name, color_number=color_hex)
        if "Size" in carried:
            record["size"] = f["size"]
        if "Supplier" in carried:
            record.update(supplier_name=f["supplier"][1], suppliers=f["supplier"][0])
    elif event_type == "OnChange":
        i = draw(st.integers(0, len(states) - 1))
        before = _webhook_milestone(draw, _state(draw, mids[i], templates[i]))[0]
        after, facts, notices = _webhook_milestone(draw, states[i])
        data["before"] = {**short, "TimeLineItem": before}
        data["after"] = {**short, "TimeLineItem": after}
        milestones = (facts,)
        raw = short
        if draw(st.integers(0, 3)):
            page = draw(st.sampled_from([(None, None), ({"name": "Tech Pack"}, "Tech Pack")]))
            schema = {
                "Id": templates[i],
                "Department": draw(st.sampled_from(["DEV", "PRE-PRODUCTION | CUSTOMER"])),
                "TaskDescription": draw(st.sampled_from(["TECHPACKS PASS OFF", "PROTO"])),
                "ShortDescription": draw(st.sampled_from(["TP", None])),
                "Page": page[0],
                "LinkFolder": master_name,
                "Days": 0,
                "When": "AFTER",
            }
            data["timeLineSchema"] = schema
            definition = DefinitionFacts(
                templates[i],
                {
                    "name": schema["TaskDescription"],
                    "short_name": schema["ShortDescription"],
                    "department": schema["Department"],
                    "page_name": page[1],
                    "raw_payload": schema,
                    "master_folder": master_name,
                },
            )
    else:
        f = _record_fields(draw)
        pairs = [_webhook_milestone(draw, s) for s in states]
        color_id, color_name, color_hex = f["color"]
        full = {
            **short,
            "Color": _color(f["color"]),
            "Size": f["size"],
            "Supplier": f["supplier"][0],
            "ModifiedAt": stamp(draw, f["modified"]) if f["modified"] else None,
            "ModifiedBy": {"user_id": str(uuid.UUID(int=0xB0)), "user_name": f["modifier"]},
            "Timelines": [p[0] for p in pairs],
            "Order": 2,
            "MarkedForDelete": False,
        }
        side = "before" if event_type == "OnDelete" else "after"
        data["before"], data["after"] = None, None
        data[side] = full
        milestones = tuple(p[1] for p in pairs)
        notices = [n for p in pairs for n in p[2]]
        raw = {k: v for k, v in full.items() if k != "Timelines"}
        record = {
            "color_id": color_id or None,
            "color_name": color_name,
            "color_number": color_hex,
            "size": f["size"],
            "supplier_name": f["supplier"][1],
            "suppliers": f["supplier"][0],
            "modified_at": instant(f["modified"]) if f["modified"] else None,
            "modified_by": f["modifier"],
        }
    body = {
        "subscriptionId": None,
        "eventType": event_type,
        "objectType": "Header",
        "headerId": item.header_id,
        "headerNumber": number,
        "headerName": name,
        "folderId": master_id,
        "folderName": master_name,
        "data": data,
        "user": {"id": str(uuid.UUID(int=0xB0)), "userName": "tester"},
        "date": stamp(draw, ticks),
    }
    lifecycle = {
        "OnCreate": (True, None),
        "OnDelete": (False, instant(ticks)),
        "OnChange": None,
    }[event_type]
    return Sent(
        source="webhook",
        kind=kind,
        payload=body,
        ticks=ticks,
        tie=tie_break(body),
        plan_id=PLAN_ID,
        folder_id=PLAN_FOLDER_ID,
        record_id=rid,
        header={
            "company_id": COMPANY_ID,
            "style_header_id": item.header_id,
            "style_number": number,
            "style_name": name,
            "header_folder_id": master_id,
            "header_folder_name": master_name,
        },
        record=record,
        raw=raw,
        lifecycle=lifecycle,
        milestones=milestones,
        templates=tuple(sorted({m.columns["template_item_id"] for m in milestones})),
        definition=definition,
        notices=tuple(notices),
    )


def api_row(
    draw: st.DrawFn,
    source: str,
    item: _Item,
    rid: str,
    mids: tuple[str, ...],
    fallback: int,
) -> Sent:
    """A `Style/Timeline` (or `Material/Timeline`) row as backfill or reconcile writes it."""
    kind = item.kind
    master_id, master_name = MASTERS[kind]
    number, name = draw(st.sampled_from(item.names))
    pairs = [_rest_milestone(draw, _state(draw, m, TEMPLATES[kind][i])) for i, m in enumerate(mids)]
    color_id, color_name, color_hex = draw(
        st.sampled_from([(str(uuid.UUID(int=0xC01)), "BLACK", "001"), ("", "NA", None)])
    )
    supplier = draw(st.sampled_from([None, {"id": str(uuid.UUID(int=0x5A)), "name": "ACME"}]))
    listed = draw(st.booleans())
    modified = draw(st.sampled_from([None, *(BASE + o for o in EVENT_OFFSETS)]))
    archived = draw(st.booleans())
    row: dict[str, Any] = {
        "id": rid,
        "colorId": color_id,
        "colorNumber": color_hex,
        "colorName": color_name,
        "size": "L",
        "supplier": supplier,
        "suppliers": [supplier] if supplier and listed else [],
        "modifiedBy": {"id": str(uuid.UUID(int=0xB1)), "name": "api.user"},
        "header": {
            "id": item.header_id,
            "headerNumber": number,
            "headerName": name,
            "folder": {"id": master_id, "name": master_name},
        },
        "timelines": [p[0] for p in pairs],
        "isArchived": archived,
    }
    if modified is not None:
        row["modifiedAt"] = stamp(draw, modified)
    ticks = modified if modified is not None else fallback
    if source == "reconcile":
        ticks += 1  # the fix: one tick after the row's time, beating what it replaces
    suppliers = [supplier] if supplier else []
    return Sent(
        source=source,
        kind=kind,
        payload=row,
        ticks=ticks,
        tie=tie_break(row),
        plan_id=PLAN_ID,
        folder_id=PLAN_FOLDER_ID if source == "backfill" else None,
        record_id=rid,
        header={
            "company_id": None,  # the API's rows do not say
            "style_header_id": item.header_id,
            "style_number": number,
            "style_name": name,
            "header_folder_id": master_id,
            "header_folder_name": master_name,
        },
        record={
            "color_id": color_id or None,
            "color_name": color_name,
            "color_number": color_hex,
            "size": "L",
            "supplier_name": "ACME" if supplier else None,
            "suppliers": suppliers,
            "modified_at": instant(modified) if modified is not None else None,
            "modified_by": "api.user",
        },
        raw={k: v for k, v in row.items() if k != "timelines"},
        lifecycle=(not archived, None),
        milestones=tuple(p[1] for p in pairs),
        templates=tuple(sorted({p[1].columns["template_item_id"] for p in pairs})),
        notices=tuple(n for p in pairs for n in p[2]),
    )


def retirement(kind: str, rid: str, forced: int) -> Sent:
    """Reconcile's soft delete of a row BeProduct no longer has (lifecycle group only)."""
    return Sent(
        source="retire",
        kind=kind,
        payload={},
        ticks=forced,
        tie=RETIRE_TIE,
        plan_id=PLAN_ID,
        folder_id=None,
        record_id=rid,
        header=None,
        record=None,
        raw=None,
        lifecycle=(False, instant(forced)),
    )


MOVES = ("OnCreate", "OnChange", "OnChange", "OnDelete", "backfill", "reconcile", "retire")


@st.composite
def histories(draw: st.DrawFn, max_items: int = 3) -> History:
    """Events about 1 to `max_items` styles or materials of one plan, in no particular order
    (the property test permutes them anyway)."""
    fallback = BASE + draw(st.sampled_from(EVENT_OFFSETS))
    forced = BASE + draw(st.sampled_from(EVENT_OFFSETS))
    sent: list[Sent] = []
    for n in range(draw(st.integers(1, max_items))):
        kind = draw(st.sampled_from(["style", "style", "material"]))
        prefix = "MSP" if kind == "style" else "MAT"
        item = _Item(
            kind,
            str(uuid.UUID(int=0x4E00 + n)),
            ((f"{prefix}{n:03d}", f"Item {n}"), (f"{prefix}{n:03d}R", f"Item {n} renamed")),
        )
        rid = str(uuid.UUID(int=(n + 1) << 16))
        for incarnation in range(draw(st.integers(1, 2))):
            if incarnation and draw(st.booleans()):
                rid = str(uuid.UUID(int=((n + 1) << 16) + incarnation))  # re-added, new id
            count = len(TEMPLATES[kind])
            mids = tuple(str(uuid.uuid5(uuid.NAMESPACE_OID, f"{rid}/{i}")) for i in range(count))
            for move in draw(st.lists(st.sampled_from(MOVES), min_size=1, max_size=4)):
                if move in ("backfill", "reconcile"):
                    sent.append(api_row(draw, move, item, rid, mids, fallback))
                elif move == "retire":
                    sent.append(retirement(kind, rid, forced))
                else:
                    sent.append(webhook(draw, move, item, rid, mids))
    return History(tuple(sent), fallback, forced)

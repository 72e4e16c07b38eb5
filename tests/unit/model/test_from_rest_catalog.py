"""REST responses → enrichment rows: tolerant reading, calendar dates, versions. No I/O."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from beproduct_sync.model.from_rest_catalog import (
    api_version,
    folder_rows,
    plan_rows,
)
from beproduct_sync.model.times import date_of_text, parse_time
from beproduct_sync.testing.fake import Sizes, World, rest

UTC = ZoneInfo("UTC")
PLAN_ID = "4b7d6906-1413-44bb-bcdd-47b7f9cc5643"
DEF_ID = "beabd562-76d0-4e89-bdcd-f9dbd00ea775"


def minimal_plan(**extra: Any) -> dict[str, Any]:
    return {"id": PLAN_ID, "style": {"timelines": [{"id": DEF_ID}]}, **extra}


def test_a_plan_from_the_fake_api_yields_its_name_dates_folder_and_every_definition() -> None:
    world = World(
        3, Sizes(folders=1, plans=1, styles=1, milestones=4, materials=1, material_milestones=2)
    )
    plan = next(iter(world.plans.values()))
    rows = plan_rows(rest.plan(plan), plan.id, UTC)
    assert rows.plan["name"] == plan.name
    assert rows.plan["folder_id"] == plan.folder_id
    assert rows.plan["start_date"] == rest.plan(plan)["startDate"][:10]
    assert rows.plan["active"] is plan.active
    names = {t["id"]: (t["name"], t["master_folder"]) for t in rows.templates}
    assert names == {
        **{d.id: (d.action, "Style") for d in plan.style_defs},
        **{d.id: (d.action, "Material") for d in plan.material_defs},
    }
    assert all(t["source_version"] == api_version(rest.plan(plan)) for t in rows.templates)


def test_a_plan_without_optional_fields_still_maps_with_nones() -> None:
    rows = plan_rows(minimal_plan(), PLAN_ID, UTC)
    assert rows.plan == {
        "id": PLAN_ID,
        "folder_id": None,
        "name": None,
        "description": None,
        "start_date": None,
        "end_date": None,
        "active": None,
        "raw_payload": minimal_plan(),
    }
    assert [(t["id"], t["name"], t["source_version"]) for t in rows.templates] == [
        (DEF_ID, None, None)
    ]


@pytest.mark.parametrize(
    "payload",
    [None, [], "oops", {"style": "nope"}, {"style": {"timelines": [{"id": "not-a-uuid"}, 7]}}],
)
def test_a_plan_response_of_the_wrong_shape_never_raises(payload: Any) -> None:
    rows = plan_rows(payload, PLAN_ID, UTC)
    assert rows.plan["id"] == PLAN_ID
    assert rows.templates == []


def test_definition_fields_are_read_from_alternative_names_and_page_objects() -> None:
    rows = plan_rows(
        minimal_plan(
            style={
                "timelines": [
                    {
                        "id": DEF_ID,
                        "taskDescription": "PROTO FIT",
                        "ShortDescription": "FIT",
                        "Department": "DESIGN",
                        "page": {"name": "Tech Pack"},
                    }
                ]
            }
        ),
        PLAN_ID,
        UTC,
    )
    t = rows.templates[0]
    assert (t["name"], t["short_name"], t["department"], t["page_name"]) == (
        "PROTO FIT",
        "FIT",
        "DESIGN",
        "Tech Pack",
    )


@pytest.mark.parametrize(
    ("value", "zone", "expected"),
    [
        ("2025-09-01T00:00:00Z", "UTC", "2025-09-01"),
        ("2025-09-01T02:00:00.1234567Z", "America/Los_Angeles", "2025-09-01"),
        ("2025-09-01T00:00:00Z", "America/Los_Angeles", "2025-09-01"),
        ("2025-09-01T02:00:00-08:00", "UTC", "2025-09-01"),
        ("2025-09-01", "UTC", "2025-09-01"),
        ("soon", "UTC", None),
        (None, "UTC", None),
        (20250901, "UTC", None),
    ],
)
def test_plan_dates_are_the_dates_beproduct_wrote(
    value: Any, zone: str, expected: str | None
) -> None:
    assert date_of_text(value, ZoneInfo(zone)) == expected


def test_an_api_version_orders_with_webhook_versions_by_modified_at() -> None:
    older = api_version(minimal_plan(modifiedAt="2025-11-06T01:00:00.0000000Z"))
    newer = api_version(minimal_plan(modifiedAt="2025-11-06T01:00:00.0000001Z"))
    assert older is not None
    assert newer is not None
    assert int(newer) > int(older)
    ticks = parse_time("2025-11-06T01:00:00.0000000Z")
    assert ticks is not None
    assert int(older) // 1_000_000 == ticks.ticks
    assert api_version(minimal_plan(modifiedAt="yesterday")) is None


def test_folders_are_read_from_a_bare_array_or_a_page_and_brand_may_be_missing() -> None:
    fid = "136625d5-d9cc-4139-8747-d98b85314676"
    bare = [
        {"id": fid, "name": "GREYSON", "active": True},
        {"id": "bad"},
        "junk",
        {"Id": fid.upper(), "name": "GREYSON 2", "brandName": "G"},
    ]
    rows = folder_rows(bare)
    assert rows == [
        {"id": fid, "name": "GREYSON 2", "brand": "G", "active": None, "raw_payload": bare[3]}
    ]
    paged = folder_rows({"result": [{"id": fid, "name": "X", "brand": {"name": "B"}}]})
    assert (paged[0]["name"], paged[0]["brand"]) == ("X", "B")
    assert folder_rows({"unexpected": True}) == []

"""Mapping events to rows: pure, table-driven, on the real payloads and variants."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from beproduct_sync.model.body import canonical
from beproduct_sync.model.body import digest as body_digest
from beproduct_sync.model.from_webhook import map_event
from beproduct_sync.model.rows import RowSet, map_status, source_version
from beproduct_sync.model.times import parse_time
from beproduct_sync.model.webhook import parse_event
from tests.helpers.samples import load_case, load_sample

UTC = ZoneInfo("UTC")


def rows_of(body: dict, zone: ZoneInfo = UTC) -> RowSet:  # type: ignore[type-arg]
    return map_event(parse_event(body), body_digest(canonical(body)), zone)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Not Started", "NOT_STARTED"),
        ("In Progress", "IN_PROGRESS"),
        ("Approved", "APPROVED"),
        ("Approved with corrections", "APPROVED_WITH_CORRECTIONS"),
        ("approved with corrections", "APPROVED_WITH_CORRECTIONS"),
        ("Approved-With-Corrections", "APPROVED_WITH_CORRECTIONS"),
        ("APPROVED_WITH_CORRECTIONS", "APPROVED_WITH_CORRECTIONS"),
        ("Rejected", "REJECTED"),
        ("Complete", "COMPLETE"),
        ("Waiting On", "WAITING_ON"),
        ("waiting-on", "WAITING_ON"),
        ("NA", "NA"),
        ("N/A", "NA"),
        ("n/a", "NA"),
        ("  in   progress ", "IN_PROGRESS"),
        ("On Hold", None),
        ("Completed", None),
        ("", None),
        (None, None),
    ],
)
def test_status_text_maps_case_space_dash_and_underscore_insensitively(
    label: str | None, expected: str | None
) -> None:
    assert map_status(label) == expected


def test_oncreate_maps_the_style_row_with_its_full_record() -> None:
    rows = rows_of(load_sample("tracking_oncreate.json"))
    rec = rows.record
    assert rows.kind == "style"
    assert rec["id"] == "b9f9d07f-7edf-496d-80c6-d51b57a3052b"
    assert rec["plan_id"] == "4b7d6906-1413-44bb-bcdd-47b7f9cc5643"
    assert (rec["style_number"], rec["style_name"]) == ("MSP26O73", "Trailwolf Vest")
    assert (rec["color_id"], rec["color_name"]) == (
        "52e8403c-7084-432c-a423-452924063016",
        "STINGRAY",
    )
    assert rec["active"] is True and rec["deleted_at"] is None
    assert rec["record_version"] == rec["header_version"] == rec["lifecycle_version"]
    assert "Timelines" not in rec["raw_payload"]
    assert rows.folder_ids == ["136625d5-d9cc-4139-8747-d98b85314676"]
    assert len(rows.milestones) == 25
    assert len(rows.templates) == 25
    assert all(t["source_version"] is None for t in rows.templates)


def test_oncreate_milestone_dates_are_utc_calendar_dates() -> None:
    rows = rows_of(load_sample("tracking_oncreate.json"))
    first = next(m for m in rows.milestones if m["id"] == "73431d54-c2c1-429e-b2f1-2746e4429790")
    assert first["due_date"] == "2025-11-05"
    assert first["plan_date"] == "2025-11-05"
    assert first["rev_date"] is None and first["final_date"] is None
    assert first["status"] == "NOT_STARTED" and first["status_label"] == "Not Started"


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Los_Angeles", "UTC"])
def test_a_configured_zone_never_moves_the_date_beproduct_wrote(zone: str) -> None:
    # Fails before the rule: Tokyo turned the creator's 18:52 wall-clock time (labelled Z) into
    # the next day, and Los Angeles turned an edited midnight-Z date into the day before.
    created = rows_of(load_sample("tracking_oncreate.json"), ZoneInfo(zone))
    first = next(m for m in created.milestones if m["id"] == "73431d54-c2c1-429e-b2f1-2746e4429790")
    assert (first["due_date"], first["plan_date"]) == ("2025-11-05", "2025-11-05")
    assert first["due_at"] == "2025-11-05T18:52:05.070845+00:00"  # the exact instant is kept
    edited = load_sample("tracking_onchangetimeline.json")
    edited["data"]["after"]["TimeLineItem"]["DueDate"] = "2025-11-20T00:00:00Z"
    item = rows_of(edited, ZoneInfo(zone)).milestones[0]
    assert (item["due_date"], item["final_date"]) == ("2025-11-20", "2025-11-06")


def test_onchange_claims_no_version_for_the_record_fields_it_does_not_carry() -> None:
    rows = rows_of(load_sample("tracking_onchangetimeline.json"))
    rec = rows.record
    assert rec["header_version"] is not None
    assert rec["record_version"] is None and rec["lifecycle_version"] is None
    assert rec["color_id"] is None and rec["size"] is None
    assert [m["id"] for m in rows.milestones] == ["5cc6d0e0-29d3-410b-a69a-eb90bface938"]
    ms = rows.milestones[0]
    assert ms["status"] == "APPROVED" and ms["final_date"] == "2025-11-06"
    assert ms["assignees"] == [
        {"assignee_id": "875fe554-cd04-430d-a9a4-f95c27659293", "assignee_name": "chrisk"}
    ]


def test_onchange_carries_the_milestone_definition_with_a_version() -> None:
    rows = rows_of(load_sample("tracking_onchangetimeline.json"))
    (definition,) = rows.templates
    assert definition["id"] == "fbf37368-6c6a-47f5-a1b7-4a32cdca6ea3"
    assert definition["name"] == "TECHPACKS PASS OFF"
    assert definition["department"] == "PRE-PRODUCTION | CUSTOMER"
    assert definition["source_version"] == rows.record["header_version"]


def test_ondelete_soft_deletes_at_the_event_time_and_refreshes_milestones() -> None:
    rows = rows_of(load_sample("tracking_ondelete.json"))
    rec = rows.record
    assert rec["active"] is False
    assert rec["deleted_at"] == "2025-11-06T05:02:56.676790+00:00"
    first = next(m for m in rows.milestones if m["id"] == "73431d54-c2c1-429e-b2f1-2746e4429790")
    assert (first["status"], first["due_date"], first["rev_date"], first["late"]) == (
        "IN_PROGRESS",
        "2025-11-06",
        "2025-11-06",
        True,
    )


def test_unknown_status_is_kept_verbatim_and_warned_about() -> None:
    rows = rows_of(load_case("onchange_unknown_status.json"))
    ms = rows.milestones[0]
    assert ms["status"] is None
    assert ms["status_label"] == "On Hold (vendor)"
    assert [w.message for w in rows.notices] == [
        "unknown status 'On Hold (vendor)' kept as status_label; status NULL"
    ]


def test_material_records_map_to_the_material_kind() -> None:
    rows = rows_of(load_case("oncreate_material.json"))
    assert rows.kind == "material"
    assert len(rows.milestones) == 5
    assert all(t["master_folder"] == "Material" for t in rows.templates)


def test_an_assignee_without_a_valid_id_is_kept_in_the_list_but_not_assigned() -> None:
    body = load_case("onchange_reassigned.json")
    body["data"]["after"]["TimeLineItem"]["AssignedTo"].append({"value": "ghost", "code": ""})
    rows = rows_of(body)
    ms = rows.milestones[0]
    assert [a["assignee_name"] for a in ms["assignees"]] == ["dana"]
    assert [p["value"] for p in ms["assigned_to"]] == ["dana", "ghost"]
    assert any("ghost" in w.message for w in rows.notices)


def test_source_versions_order_by_time_first_and_exceed_64_bits() -> None:
    early = parse_time("2025-11-06T01:52:06.2802695Z")
    late = parse_time("2025-11-06T01:52:06.2802696Z")
    assert early is not None and late is not None
    v_early = int(source_version(early, b"\xff" * 32))
    v_late = int(source_version(late, b"\x00" * 32))
    assert v_late > v_early > 2**64


def test_equal_times_are_ordered_by_body_hash_deterministically() -> None:
    t = parse_time("2025-11-06T01:52:06Z")
    assert t is not None
    assert source_version(t, b"\x00\x00\x00\x01" + b"\x00" * 28) != source_version(t, b"\x00" * 32)


GOOD = {"value": "chrisk", "code": "875fe554-cd04-430d-a9a4-f95c27659293"}
FIRST = "73431d54-c2c1-429e-b2f1-2746e4429790"


@pytest.mark.parametrize("odd", [None, "x", 5, [1], True])
@pytest.mark.parametrize("field", ["AssignedTo", "ShareWith"])
def test_a_non_object_person_is_skipped_with_its_path_and_the_rest_applied(
    field: str, odd: object
) -> None:
    # Fails before per-entry notes: the odd entry vanished (AssignedTo) or was stored as it
    # was (ShareWith), and nothing told anyone.
    body = load_sample("tracking_oncreate.json")
    body["data"]["after"]["Timelines"][0][field] = [odd, GOOD]
    rows = rows_of(body)
    first = next(m for m in rows.milestones if m["id"] == FIRST)
    people = first["assigned_to"] if field == "AssignedTo" else first["shared_with"]
    assert people == [GOOD]
    assert len(rows.milestones) == 25
    (note,) = rows.notices
    assert note.entity_id == FIRST
    assert note.message.startswith(f"data.after.Timelines[0].{field}[0]: expected an object")
    assert "skipped, the rest of the event applied" in note.message


@pytest.mark.parametrize("odd", [None, "x", 5, [1]])
def test_a_non_object_milestone_is_skipped_with_its_path(odd: object) -> None:
    body = load_sample("tracking_oncreate.json")
    body["data"]["after"]["Timelines"].insert(3, odd)
    rows = rows_of(body)
    assert len(rows.milestones) == 25
    (note,) = rows.notices
    assert note.entity_id == "b9f9d07f-7edf-496d-80c6-d51b57a3052b"
    assert note.message.startswith("data.after.Timelines[3]: expected an object")


def test_a_list_field_that_is_no_list_is_noted_and_read_as_empty() -> None:
    body = load_sample("tracking_oncreate.json")
    body["data"]["after"]["Timelines"][0]["ShareWith"] = "everyone"
    body["data"]["before"] = None
    deleted = load_sample("tracking_ondelete.json")
    deleted["data"]["before"]["Timelines"] = "gone"
    rows, gone = rows_of(body), rows_of(deleted)
    assert [n.message.split(":")[0] for n in rows.notices] == ["data.after.Timelines[0].ShareWith"]
    assert gone.milestones == []
    assert gone.record["active"] is False
    assert [n.message.split(":")[0] for n in gone.notices] == ["data.before.Timelines"]


def test_an_onchange_with_a_null_before_is_applied() -> None:
    body = load_sample("tracking_onchangetimeline.json")
    body["data"]["before"] = None
    rows = rows_of(body)
    assert [m["status"] for m in rows.milestones] == ["APPROVED"]
    assert rows.notices == []


def test_an_onchange_without_a_milestone_claims_the_record_fields_it_carries() -> None:
    # Fails before: "OnChange without data.after.TimeLineItem" dead-lettered the event.
    body = load_sample("tracking_onchangetimeline.json")
    for side in ("before", "after"):
        del body["data"][side]["TimeLineItem"]
    body["data"]["after"]["Size"] = "XL"
    body["data"]["after"]["Color"] = {
        "_id": "c-1",
        "suggested_name": "MOSS",
        "suggested_hex": "310",
    }
    rec = rows_of(body).record
    assert rows_of(body).milestones == []
    assert (rec["size"], rec["color_name"], rec["color_number"]) == ("XL", "MOSS", "310")
    assert rec["size_version"] == rec["color_version"] == rec["header_version"] is not None
    assert rec["supplier_version"] is None  # no Supplier in the body: not claimed
    assert rec["record_version"] is None and rec["lifecycle_version"] is None
    assert rec["active"] is True


def test_the_template_kind_comes_from_the_record_not_the_linked_page_folder() -> None:
    # Fails before: a material milestone's definition took LinkFolder "Style" as its kind.
    body = load_sample("tracking_onchangetimeline.json")
    for side in ("before", "after"):
        body["data"][side]["MasterFolder"] = "Material"
    assert body["data"]["timeLineSchema"]["LinkFolder"] == "Style"
    rows = rows_of(body)
    assert rows.kind == "material"
    assert {t["master_folder"] for t in rows.templates} == {"Material"}

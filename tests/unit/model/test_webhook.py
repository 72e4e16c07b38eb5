"""Parsing webhook bodies into typed events."""

from __future__ import annotations

import copy
from uuid import UUID

import pytest

from beproduct_sync.errors import MalformedEvent, NotATrackingEvent
from beproduct_sync.model.times import parse_time
from beproduct_sync.model.webhook import event_type_label, parse_event
from tests.helpers.samples import load_case, load_sample


def test_seven_fractional_digits_parse_to_exact_ticks() -> None:
    t = parse_time("2025-11-06T01:52:06.2802695Z")
    assert t is not None
    assert t.ticks == 17623939262802695
    assert t.datetime.isoformat() == "2025-11-06T01:52:06.280269+00:00"


@pytest.mark.parametrize(
    ("text", "ticks"),
    [
        ("2025-11-06T00:00:00Z", 17623872000000000),
        ("2025-11-06T01:00:00+01:00", 17623872000000000),
        ("2025-11-06T00:00:00.5Z", 17623872005000000),
        ("2025-11-06T00:00:00", 17623872000000000),
        ("2025-11-06T05:01:53.857Z", 17624053138570000),
    ],
)
def test_timestamps_in_other_shapes_parse_to_the_same_instant(text: str, ticks: int) -> None:
    parsed = parse_time(text)
    assert parsed is not None
    assert parsed.ticks == ticks


@pytest.mark.parametrize("bad", ["yesterday", "2025-13-01T00:00:00Z", 12345])
def test_a_bad_timestamp_is_a_value_error(bad: object) -> None:
    with pytest.raises(ValueError, match=r"timestamp|month"):
        parse_time(bad)


def test_null_and_empty_timestamps_are_none() -> None:
    assert parse_time(None) is None
    assert parse_time("") is None


def test_real_oncreate_parses_with_all_milestones() -> None:
    event = parse_event(load_sample("tracking_oncreate.json"))
    assert event.event_type == "OnCreate"
    assert event.record_id == UUID("b9f9d07f-7edf-496d-80c6-d51b57a3052b")
    assert event.plan_folder_id == UUID("136625d5-d9cc-4139-8747-d98b85314676")
    assert event.header_number == "MSP26O73"
    assert event.record is not None and event.record.timelines is not None
    assert len(event.record.timelines) == 25
    assert event.record.color == {
        "_id": "52e8403c-7084-432c-a423-452924063016",
        "color_source_id": None,
        "suggested_name": "STINGRAY",
        "suggested_hex": "030",
    }
    assert event.master_folder == "Style"


def test_real_onchange_parses_its_milestone_and_definition() -> None:
    event = parse_event(load_sample("tracking_onchangetimeline.json"))
    assert event.event_type == "OnChange"
    assert event.record is not None and event.record.timeline_item is not None
    item = event.record.timeline_item
    assert item.status == "Approved"
    assert item.final is not None and item.final.text == "2025-11-06T15:09:56Z"
    assert [(p.value, p.code) for p in item.assigned_to] == [
        ("chrisk", "875fe554-cd04-430d-a9a4-f95c27659293")
    ]
    assert event.schema_ is not None
    assert event.schema_.task_description == "TECHPACKS PASS OFF"
    assert event.schema_.raw["GroupTask"] == "NORMAL"


def test_real_ondelete_uses_the_before_record() -> None:
    event = parse_event(load_sample("tracking_ondelete.json"))
    assert event.after is None
    assert event.record is event.before
    assert event.record is not None and event.record.timelines is not None
    assert event.record.timelines[0].status == "In Progress"


def test_extra_and_missing_optional_fields_are_tolerated() -> None:
    body = load_sample("tracking_oncreate.json")
    body["somethingNew"] = {"nested": True}
    rec = body["data"]["after"]
    for key in ("Color", "Size", "Supplier", "ModifiedAt", "ModifiedBy", "StyleColor"):
        rec.pop(key)
    rec["Timelines"][0].pop("AssignedTo")
    rec["Timelines"][0]["ShareWith"] = None
    rec["Timelines"][0]["Brand-new"] = 1
    event = parse_event(body)
    assert event.record is not None and event.record.color is None
    assert event.record.timelines is not None
    assert event.record.timelines[0].assigned_to == []
    assert event.record.timelines[0].share_with == []


def test_a_style_attribute_change_is_not_a_tracking_event() -> None:
    # The real shape: header fields before and after, the plans as planIds, no data.planId.
    with pytest.raises(NotATrackingEvent, match="planId"):
        parse_event(load_case("style_attribute_change.json"))


@pytest.mark.parametrize("body", [[], "text", 42, None])
def test_a_body_that_is_not_an_object_is_not_a_tracking_event(body: object) -> None:
    with pytest.raises(NotATrackingEvent):
        parse_event(body)


def test_an_unknown_event_type_is_not_a_tracking_event() -> None:
    body = load_sample("tracking_oncreate.json")
    body["eventType"] = "OnArchive"
    with pytest.raises(NotATrackingEvent, match="OnArchive"):
        parse_event(body)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.pop("date"), "date"),
        (lambda b: b.__setitem__("date", "soon"), "timestamp"),
        (lambda b: b["data"].__setitem__("after", None), "data.after"),
        (lambda b: b["data"]["after"].__setitem__("Id", "not-a-uuid"), "Id"),
    ],
)
def test_a_tracking_event_missing_what_we_need_is_malformed(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    body = copy.deepcopy(load_sample("tracking_oncreate.json"))
    mutate(body)
    with pytest.raises(MalformedEvent, match=message):
        parse_event(body)


def test_odd_values_in_optional_fields_are_read_tolerantly_not_fatal() -> None:
    body = load_sample("tracking_onchangetimeline.json")
    item = body["data"]["after"]["TimeLineItem"]
    item.update(
        Rev="2025-11-06",
        DueDate="nope",
        Late="",
        SubmitsQuantity=1.5,
        AssignedTo=[{"value": 7, "code": "875fe554-cd04-430d-a9a4-f95c27659293"}, "x"],
        TimeLineId="not-a-uuid",
    )
    body["user"]["id"] = 5
    body["headerName"] = 12345
    body["data"]["timeLineSchema"]["Id"] = "broken"
    event = parse_event(body)
    assert event.record is not None
    got = event.record.timeline_item
    assert got is not None
    assert got.rev is not None and got.rev.text == "2025-11-06"
    assert got.due is None
    assert got.late is None
    assert got.submits_quantity is None
    assert got.timeline_id is None
    assert [(p.value, p.code) for p in got.assigned_to] == [
        ("7", "875fe554-cd04-430d-a9a4-f95c27659293")
    ]
    assert got.raw["DueDate"] == "nope"  # the original text is kept
    assert event.user_id == "5"
    assert event.header_name == "12345"
    assert event.schema_ is None
    assert [s.path for s in event.skipped] == ["data.after.TimeLineItem.AssignedTo[1]"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(2.0, 2), ("3", 3), (True, 1), (2**40, None), ("many", None), (None, None)],
)
def test_submits_quantity_is_read_leniently(value: object, expected: int | None) -> None:
    body = load_sample("tracking_onchangetimeline.json")
    body["data"]["after"]["TimeLineItem"]["SubmitsQuantity"] = value
    event = parse_event(body)
    assert event.record is not None and event.record.timeline_item is not None
    assert event.record.timeline_item.submits_quantity == expected


def test_dotnet_min_value_with_an_offset_parses_to_ticks_before_year_one() -> None:
    t = parse_time("0001-01-01T00:00:00+02:00")
    assert t is not None
    assert t.ticks < parse_time("0001-01-01T00:00:00Z").ticks  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="out of range"):
        _ = t.datetime


def test_an_out_of_range_event_date_is_malformed_but_an_optional_one_is_tolerated() -> None:
    body = load_sample("tracking_onchangetimeline.json")
    body["data"]["after"]["TimeLineItem"]["DueDate"] = "0001-01-01T00:00:00+02:00"
    event = parse_event(body)
    assert event.record is not None and event.record.timeline_item is not None
    assert event.record.timeline_item.due is not None  # kept as ticks; dates map to NULL
    body["date"] = "0001-01-01T00:00:00+02:00"
    with pytest.raises(MalformedEvent, match="out of range"):
        parse_event(body)


def test_unreadable_timeline_entries_are_dropped_and_the_rest_kept() -> None:
    body = load_sample("tracking_oncreate.json")
    body["data"]["after"]["Timelines"][0] = None
    body["data"]["after"]["Timelines"][1] = {"Status": "Approved"}  # no Id
    event = parse_event(body)
    assert event.record is not None and event.record.timelines is not None
    assert len(event.record.timelines) == 23
    assert [(s.path, s.reason) for s in event.skipped] == [
        ("data.after.Timelines[0]", "expected an object, got null"),
        ("data.after.Timelines[1]", "no readable milestone Id"),
    ]


def test_event_types_a_sender_made_up_share_one_metric_label() -> None:
    assert event_type_label("OnChange") == "OnChange"
    assert event_type_label("OnWhatever") == "other"
    assert event_type_label(None) == "other"
    assert event_type_label({"not": "hashable as a label"}) == "other"


@pytest.mark.parametrize("before", ["not an object", {"Id": "not a uuid"}, [1, 2]], ids=str)
def test_an_onchange_is_read_from_its_after_side_whatever_its_before_holds(before: object) -> None:
    # `data.before` of an OnChange is history: it is kept in the stored payload, never read.
    body = load_sample("tracking_onchangetimeline.json")
    body["data"]["before"] = before
    event = parse_event(body)
    assert event.before is None
    assert event.record is event.after
    assert event.record is not None and event.record.timeline_item is not None
    assert event.skipped == ()

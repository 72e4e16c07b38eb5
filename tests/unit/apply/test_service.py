"""Cutting a batch into chunks in which no record or milestone id repeats."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from beproduct_sync.apply.service import Entry, Parsed, chunks
from beproduct_sync.model.body import canonical
from beproduct_sync.model.body import digest as body_digest
from beproduct_sync.model.from_webhook import map_event
from beproduct_sync.model.webhook import parse_event
from tests.helpers.samples import load_case, load_sample


def parsed(body: dict) -> Parsed:  # type: ignore[type-arg]
    digest = body_digest(canonical(body))
    event = parse_event(body)
    return Parsed(Entry(0, body, digest), event, map_event(event, digest, ZoneInfo("UTC")))


def test_events_of_different_styles_share_a_chunk() -> None:
    items = [
        parsed(load_sample("tracking_oncreate.json")),
        parsed(load_sample("tracking_onchangetimeline.json")),
    ]
    assert [len(c) for c in chunks(items)] == [2]


def test_a_repeated_record_starts_a_new_chunk() -> None:
    items = [
        parsed(load_sample("tracking_oncreate.json")),
        parsed(load_sample("tracking_onchangetimeline.json")),
        parsed(load_sample("tracking_ondelete.json")),
        parsed(load_case("onchange_reassigned.json")),
    ]
    assert [len(c) for c in chunks(items)] == [2, 2]


def test_chunks_respect_the_size_limit() -> None:
    items = [parsed(load_sample("tracking_oncreate.json"))] * 1
    items += [parsed(load_case("oncreate_material.json"))]
    assert [len(c) for c in chunks(items, limit=1)] == [1, 1]


def test_an_event_of_another_style_joins_the_first_chunk_that_holds_none_of_its_rows() -> None:
    create = parsed(load_sample("tracking_oncreate.json"))
    delete = parsed(load_sample("tracking_ondelete.json"))  # the same style as the create
    change = parsed(load_sample("tracking_onchangetimeline.json"))  # another style
    assert create.rows.record["id"] == delete.rows.record["id"] != change.rows.record["id"]
    cut = list(chunks([create, delete, change]))
    # The delete follows the create; the change need not wait behind the delete.
    assert [[p.rows.record["id"] for p in c] for c in cut] == [
        [create.rows.record["id"], change.rows.record["id"]],
        [delete.rows.record["id"]],
    ]
    assert cut[0][0] is create and cut[1][0] is delete

"""Schedule rules of milestone definitions, from webhooks' timeLineSchema and the API."""

from __future__ import annotations

import copy
from zoneinfo import ZoneInfo

from beproduct_sync.model.body import canonical
from beproduct_sync.model.body import digest as body_digest
from beproduct_sync.model.from_rest_catalog import plan_rows
from beproduct_sync.model.from_webhook import map_event
from beproduct_sync.model.rows import RowSet, TemplateRow
from beproduct_sync.model.webhook import parse_event
from tests.helpers.samples import load_sample

UTC = ZoneInfo("UTC")
TECHPACKS = "fbf37368-6c6a-47f5-a1b7-4a32cdca6ea3"


def rows_of(body: dict) -> RowSet:  # type: ignore[type-arg]
    return map_event(parse_event(body), body_digest(canonical(body)), UTC)


def definition(rows: RowSet, tid: str) -> TemplateRow:
    return next(t for t in rows.templates if t["id"] == tid)


def test_the_real_onchange_carries_its_rule_with_the_definitions_version() -> None:
    rows = rows_of(load_sample("tracking_onchangetimeline.json"))
    t = definition(rows, TECHPACKS)
    assert {k: t.get(k) for k in ("days", "direction", "act_desc", "calendar")} == {
        "days": 0,
        "direction": "AFTER",
        "act_desc": "00000000-0000-0000-0000-000000000000",
        "calendar": "DAYS",
    }
    assert (t.get("calendar_days"), t.get("revised_days"), t.get("group_task")) == (0, 0, "NORMAL")
    assert (t.get("share_when"), t.get("default_status")) == ("ANY", "Not Started")
    assert t.get("rule_version") == t["source_version"] is not None


def test_odd_rule_values_become_none_and_a_schema_without_a_rule_carries_none() -> None:
    body = load_sample("tracking_onchangetimeline.json")
    odd = copy.deepcopy(body)
    odd["data"]["timeLineSchema"].update(Days="soon", ActDesc="not-a-uuid", Calendar=5)
    t = definition(rows_of(odd), TECHPACKS)
    assert (t.get("days"), t.get("act_desc"), t.get("calendar")) == (None, None, "5")
    assert t.get("rule_version") is not None  # a rule was sent, oddly: it is the latest word
    bare = copy.deepcopy(body)
    for key in ("Days", "ActDesc"):
        del bare["data"]["timeLineSchema"][key]
    t = definition(rows_of(bare), TECHPACKS)
    assert "rule_version" not in t and "days" not in t


def test_an_api_definition_has_a_rule_only_with_its_anchor() -> None:
    with_anchor = {"id": TECHPACKS, "actDesc": TECHPACKS.replace("f", "e"), "days": 4}
    without_id = TECHPACKS.replace("f", "a")
    without = {"id": without_id, "days": 12, "when": "AFTER"}
    found = plan_rows(
        {"modifiedAt": "2025-11-01T00:00:00Z", "style": {"timelines": [with_anchor, without]}},
        "4b7d6906-1413-44bb-bcdd-47b7f9cc5643",
        UTC,
    )
    by_id = {t["id"]: t for t in found.templates}
    anchored = by_id[TECHPACKS]
    assert (anchored.get("days"), anchored.get("act_desc")) == (4, with_anchor["actDesc"])
    assert anchored.get("rule_version") == anchored["source_version"]
    assert "rule_version" not in by_id[without_id]

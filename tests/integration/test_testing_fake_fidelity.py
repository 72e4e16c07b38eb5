"""The fake BeProduct speaks the documented API by default, and each trait can be switched off.

One test per documented behaviour (BeProduct's TypeScript SDK docs and schemas, real webhook
bodies), over real HTTP, plus the switch that turns it off.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import beproduct_sync.cli.fake  # noqa: F401 - registers the command
from beproduct_sync.cli import app
from beproduct_sync.errors import NotATrackingEvent
from beproduct_sync.model.webhook import parse_event
from beproduct_sync.testing.fake import FakeBeProduct, Sizes
from beproduct_sync.testing.fake.behaviour import RateLimits
from beproduct_sync.testing.fake.model import TICKS_PER_DAY, fmt_time, now_ticks
from beproduct_sync.testing.fake.seed import LOCAL_OFFSET

SIZES = Sizes(folders=1, plans=2, styles=130, milestones=3, materials=1, material_milestones=2)


@pytest.fixture
def fake() -> Iterator[FakeBeProduct]:
    with FakeBeProduct.running(seed=21, sizes=SIZES) as running:
        yield running


def client(fake: FakeBeProduct) -> httpx.Client:
    token = httpx.post(
        fake.token_url,
        data={
            "grant_type": "refresh_token",
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "refresh_token": fake.refresh_token,
        },
    ).json()["access_token"]
    return httpx.Client(
        base_url=fake.api_base, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def plan_id(fake: FakeBeProduct) -> str:
    return next(iter(fake.world.plans))


def timeline(
    http: httpx.Client, pid: str, filters: Any = None, size: int = 20, number: int = 0
) -> dict[str, Any]:
    answer = http.post(
        f"Tracking/Plan/{pid}/Style/Timeline",
        params={"pageSize": size, "pageNumber": number},
        json={"filters": filters or []},
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_filter_field_names_are_case_sensitive_and_a_misspelt_one_is_ignored(
    fake: FakeBeProduct,
) -> None:
    pid = plan_id(fake)
    row = next(iter(fake.world.plan(pid).styles.values()))
    with client(fake) as http:
        exact = timeline(http, pid, [{"field": "Id", "operator": "Eq", "value": row.id}])
        camel = timeline(http, pid, [{"field": "id", "operator": "Eq", "value": row.id}])
        fake.behave(filter_fields_case_sensitive=False)
        lenient = timeline(http, pid, [{"field": "id", "operator": "Eq", "value": row.id}])
    assert exact["total"] == 1
    assert camel["total"] == SIZES.styles  # silently unfiltered, as documented
    assert lenient["total"] == 1


def test_date_filter_values_without_z_are_misparsed(fake: FakeBeProduct) -> None:
    pid = plan_id(fake)
    row = next(iter(fake.world.plan(pid).styles.values()))
    since = now_ticks()
    fake.change_milestone(row.id, status="In Progress")
    # The same instant written with a +05:00 offset: BeProduct reads its digits as UTC, five
    # hours later than meant, so the change is not found.
    local = (fmt_time(since + 5 * 3600 * 10_000_000) or "").removesuffix("Z") + "+05:00"
    with client(fake) as http:
        with_z = timeline(
            http, pid, [{"field": "ModifiedAt", "operator": "Gte", "value": fmt_time(since)}]
        )
        offset = timeline(http, pid, [{"field": "ModifiedAt", "operator": "Gte", "value": local}])
        fake.behave(filter_dates_need_z=False)
        honoured = timeline(http, pid, [{"field": "ModifiedAt", "operator": "Gte", "value": local}])
    assert [r["id"] for r in with_z["result"]] == [row.id]
    assert offset["total"] == 0
    assert [r["id"] for r in honoured["result"]] == [row.id]


def test_the_server_caps_page_size_and_silently_returns_fewer_rows(fake: FakeBeProduct) -> None:
    pid = plan_id(fake)
    with client(fake) as http:
        first = timeline(http, pid, size=120)
        second = timeline(http, pid, size=120, number=1)
        fake.behave(max_page_size=0)
        uncapped = timeline(http, pid, size=120)
    assert (len(first["result"]), first["total"]) == (100, SIZES.styles)
    # Pages are counted in steps of the size actually served.
    assert len(second["result"]) == SIZES.styles - 100
    assert not {r["id"] for r in first["result"]} & {r["id"] for r in second["result"]}
    assert len(uncapped["result"]) == 120


def test_large_pages_are_slow(fake: FakeBeProduct) -> None:
    fake.behave(seconds_per_row=0.004)
    with client(fake) as http:
        started = time.monotonic()
        timeline(http, plan_id(fake), size=100)
        slow = time.monotonic() - started
        fake.behave(seconds_per_row=0.0)
        started = time.monotonic()
        timeline(http, plan_id(fake), size=100)
        fast = time.monotonic() - started
    assert slow >= 0.4
    assert fast < slow


def test_minute_hour_and_day_windows_limit_requests_and_report_themselves() -> None:
    limits = RateLimits(per_minute=3, per_hour=50, per_day=100)
    with (
        FakeBeProduct.running(seed=21, sizes=SIZES, rate_limits=limits) as fake,
        client(fake) as http,
    ):
        answers = [http.get("Tracking/Folders") for _ in range(5)]
        status = http.get("ratelimit/status")
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert all(a.headers["X-RateLimit-Limit"] == "3" for a in answers)
    body = answers[3].json()
    assert body["window"] == "minute"
    assert body["limit"] == 3
    assert 1 <= body["retryAfterSeconds"] <= 60
    assert status.status_code == 200
    windows = status.json()
    assert set(windows) == {"per_minute", "per_hour", "per_day"}
    assert windows["per_minute"] == {
        "limit": 3,
        "remaining": 0,
        "used": 3,
        "resetAt": windows["per_minute"]["resetAt"],
    }
    assert windows["per_hour"]["used"] == 3
    assert windows["per_day"]["remaining"] == 97


def test_a_429_may_carry_its_wait_only_in_the_body(fake: FakeBeProduct) -> None:
    fake.set_rate_limits(RateLimits(per_minute=1))
    with client(fake) as http:
        http.get("Tracking/Folders")
        refused = [http.get("Tracking/Folders") for _ in range(4)]
        fake.behave(retry_after_header="always")
        always = http.get("Tracking/Folders")
    assert [r.status_code for r in refused] == [429] * 4
    # Alternating by default: the header on every other 429, the body on all of them.
    assert ["Retry-After" in r.headers for r in refused] == [True, False, True, False]
    assert all("retryAfterSeconds" in r.json() for r in refused)
    assert "Retry-After" in always.headers


def test_an_hour_window_can_be_waited_out_by_moving_the_fakes_clock(fake: FakeBeProduct) -> None:
    fake.set_rate_limits(RateLimits(per_minute=0, per_hour=2, per_day=0))
    with client(fake) as http:
        http.get("Tracking/Folders")
        http.get("Tracking/Folders")
        refused = http.get("Tracking/Folders")
        fake.advance_rate_clock(refused.json()["retryAfterSeconds"])
        after = http.get("Tracking/Folders")
    assert refused.json()["window"] == "hour"
    assert refused.json()["retryAfterSeconds"] > 60
    assert after.status_code == 200


def test_rest_and_webhooks_spell_the_same_status_differently(fake: FakeBeProduct) -> None:
    pid = plan_id(fake)
    row = next(iter(fake.world.plan(pid).styles.values()))
    fake.behave(label_case_drift=False)
    first, second = row.milestones[0], row.milestones[1]
    fake.change_milestone(row.id, first.id, status="Approved with corrections")
    change = fake.change_milestone(row.id, second.id, status="NA")
    with client(fake) as http:
        rest = timeline(http, pid, [{"field": "Id", "operator": "Eq", "value": row.id}])
        fake.behave(rest_status_spellings=False)
        plain = timeline(http, pid, [{"field": "Id", "operator": "Eq", "value": row.id}])
    items = {m["id"]: m["status"] for m in rest["result"][0]["timelines"]}
    assert items[first.id] == "Approved with Corrections"
    assert items[second.id] == "N/A"
    assert fake.on_change(change)["data"]["after"]["TimeLineItem"]["Status"] == "NA"
    assert {m["id"]: m["status"] for m in plain["result"][0]["timelines"]}[first.id] == (
        "Approved with corrections"
    )


def test_webhook_status_labels_change_case_over_time(fake: FakeBeProduct) -> None:
    row = fake.world.rows()[0]
    labels = {
        fake.on_change(fake.change_milestone(row.id, status="In Progress"))["data"]["after"][
            "TimeLineItem"
        ]["Status"]
        for _ in range(12)
    }
    fake.behave(label_case_drift=False)
    steady = {
        fake.on_change(fake.change_milestone(row.id, status="In Progress"))["data"]["after"][
            "TimeLineItem"
        ]["Status"]
        for _ in range(6)
    }
    assert {label.casefold() for label in labels} == {"in progress"}
    assert len(labels) > 1
    assert steady == {"In Progress"}


def test_rest_late_is_computed_when_read(fake: FakeBeProduct) -> None:
    pid = plan_id(fake)
    row = next(iter(fake.world.plan(pid).styles.values()))
    m = row.milestones[0]
    overdue = now_ticks() - 3 * TICKS_PER_DAY
    fake.change_milestone(row.id, m.id, status="In Progress", due=overdue, late=False)
    with client(fake) as http:
        computed = timeline(http, pid, [{"field": "Id", "operator": "Eq", "value": row.id}])
        fake.behave(late_computed_on_read=False)
        stored = timeline(http, pid, [{"field": "Id", "operator": "Eq", "value": row.id}])
    assert {i["id"]: i["late"] for i in computed["result"][0]["timelines"]}[m.id] is True
    assert {i["id"]: i["late"] for i in stored["result"][0]["timelines"]}[m.id] is False


def test_rows_have_the_documented_shapes(fake: FakeBeProduct) -> None:
    pid = plan_id(fake)
    row = fake.world.plan(pid).styles[next(iter(fake.world.plan(pid).styles))]
    partner = fake.world.partners[1]
    m = row.milestones[0]
    fake.change_milestone(row.id, m.id, share_with=[partner.name])
    with_page = next(d for d in fake.world.plan(pid).style_defs if d.page_name)
    with client(fake) as http:
        rows = timeline(http, pid, size=100)["result"]
    got = next(r for r in rows if r["id"] == row.id)
    assert {"fields", "isArchived"} <= set(got)
    assert got["isArchived"] is False
    assert {"id", "name", "value", "type", "required"} == set(got["fields"][0])
    item = next(i for i in got["timelines"] if i["id"] == m.id)
    assert item["shareWith"] == [
        {
            "id": partner.id,
            "name": partner.name,
            "partnerType": "Supplier",
            "country": partner.country,
        }
    ]
    paged = [i for r in rows for i in r["timelines"] if i["timelineId"] == with_page.id]
    assert paged
    assert set(paged[0]["page"]) == {"id", "title", "type"}
    assert paged[0]["page"]["title"] == with_page.page_name


def test_dates_picked_at_creation_are_local_wall_clock_labelled_z_and_edits_are_midnight(
    fake: FakeBeProduct,
) -> None:
    row = fake.world.rows()[0]
    m = row.milestones[0]
    local_clock = (row.modified_at + LOCAL_OFFSET) % TICKS_PER_DAY
    assert (m.plan or 0) % TICKS_PER_DAY == local_clock
    fake.change_milestone(row.id, m.id, due="2025-12-01")
    assert fmt_time(m.due) == "2025-12-01T00:00:00Z"


def test_generated_webhooks_use_only_real_shapes(fake: FakeBeProduct) -> None:
    row = fake.world.rows("Material")[0]
    created = fake.on_create(row)
    assert created["data"]["after"]["Supplier"] == []
    change = fake.on_change(fake.change_milestone(row.id, status="Rejected"))
    assert change["data"]["timeLineSchema"]["LinkFolder"] == "Style"
    assert change["data"]["timeLineSchema"]["Page"] is None
    assert change["data"]["after"]["MasterFolder"] == "Material"
    edited = fake.on_row_change(fake.edit_row(row.id, size="XL"))
    assert "TimeLineItem" not in edited["data"]["after"]
    assert edited["data"]["after"]["Size"] == "XL"
    attribute = fake.on_attribute_change(fake.world.rows()[0])
    assert attribute["objectType"] == "Header"
    assert "planId" not in attribute["data"]
    assert attribute["data"]["planIds"]
    assert set(attribute["data"]) == {"before", "after", "planIds"}
    with pytest.raises(NotATrackingEvent):
        parse_event(attribute)


def test_admin_endpoints_switch_behaviour_limits_and_tokens(fake: FakeBeProduct) -> None:
    admin = fake.base_url + "/_admin/"
    shown = httpx.get(admin + "behaviour").json()
    assert shown["max_page_size"] == 100 and shown["rotate_refresh_tokens"] is False
    changed = httpx.post(admin + "behaviour", json={"max_page_size": 5, "seconds_per_row": 0})
    assert changed.json()["max_page_size"] == 5
    assert fake.behaviour.max_page_size == 5
    assert httpx.post(admin + "behaviour", json={"colour": 1}).status_code == 400
    assert httpx.post(admin + "behaviour", json={"max_page_size": "x"}).status_code == 400
    limits = httpx.post(admin + "ratelimit", json={"per_minute": 7, "advance_seconds": 5}).json()
    assert limits["limits"]["per_minute"] == 7
    assert limits["windows"]["minute"]["limit"] == 7
    with client(fake) as http:
        assert len(timeline(http, plan_id(fake), size=50)["result"]) == 5
        assert httpx.post(admin + "tokens/revoke", json={}).status_code == 200
        fake.expire_access_tokens()
        assert http.get("Tracking/Folders").status_code == 401
    refused = httpx.post(
        fake.token_url,
        data={
            "grant_type": "refresh_token",
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "refresh_token": fake.refresh_token,
        },
    )
    assert refused.json() == {"error": "invalid_grant"}


def test_cli_flags_switch_behaviours_off(tmp_path: Any) -> None:
    runner = CliRunner()
    base = [
        "fake-beproduct",
        "--folders",
        "1",
        "--plans",
        "1",
        "--styles",
        "3",
        "--milestones",
        "2",
    ]
    bad = runner.invoke(
        app, [*base, "--retry-after-header", "sometimes", "webhooks", "--out", str(tmp_path)]
    )
    assert bad.exit_code != 0
    assert "--retry-after-header must be one of" in bad.output
    done = runner.invoke(
        app, [*base, "--no-label-drift", "webhooks", "--count", "30", "--out", str(tmp_path / "w")]
    )
    assert done.exit_code == 0, done.output
    seen = set()
    for path in (tmp_path / "w").iterdir():
        body = httpx.Response(200, content=path.read_bytes()).json()
        after = body["data"].get("after") or {}
        for item in [after.get("TimeLineItem"), *(after.get("Timelines") or [])]:
            if item:
                seen.add(item["Status"])
    assert seen <= {
        "Not Started",
        "In Progress",
        "Approved",
        "Approved with corrections",
        "Rejected",
        "Complete",
        "Waiting On",
        "NA",
    }

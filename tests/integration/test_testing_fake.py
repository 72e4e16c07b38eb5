"""The fake BeProduct API over real HTTP: tokens, paging, filters, edits, faults, webhooks."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import psycopg
import pytest
from typer.testing import CliRunner

import beproduct_sync.cli.fake  # noqa: F401 - registers the command
from beproduct_sync import db
from beproduct_sync.apply.ingest import ingest
from beproduct_sync.apply.policy import Policy
from beproduct_sync.cli import app
from beproduct_sync.model.webhook import parse_event
from beproduct_sync.testing.fake import FakeBeProduct, Sizes, World
from beproduct_sync.testing.fake.model import fmt_time, now_ticks
from tests.helpers.samples import load_sample

SIZES = Sizes(folders=2, plans=3, styles=7, milestones=5, materials=3, material_milestones=2)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBeProduct]:
    with FakeBeProduct.running(seed=7, sizes=SIZES) as running:
        yield running


@pytest.fixture
def http(fake: FakeBeProduct) -> Iterator[httpx.Client]:
    fake.clear_faults()
    fake.stats.reset()
    token = grant(fake, fake.refresh_token).json()["access_token"]
    with httpx.Client(
        base_url=fake.api_base, headers={"Authorization": f"Bearer {token}"}, timeout=5
    ) as client:
        yield client
    fake.clear_faults()


def grant(fake: FakeBeProduct, refresh_token: str, secret: str | None = None) -> httpx.Response:
    return httpx.post(
        fake.token_url,
        data={
            "grant_type": "refresh_token",
            "client_id": fake.client_id,
            "client_secret": secret or fake.client_secret,
            "refresh_token": refresh_token,
        },
    )


def first_plan(http: httpx.Client) -> dict[str, Any]:
    page = http.post(
        "Tracking/Plans", params={"pageSize": 1, "pageNumber": 0}, json={"filters": []}
    ).json()
    return dict(page["result"][0])


def test_refresh_tokens_are_reusable_until_revoked(fake: FakeBeProduct) -> None:
    first = grant(fake, fake.refresh_token).json()
    assert first["token_type"] == "Bearer"
    assert first["expires_in"] == 8 * 3600
    assert first["refresh_token"] == fake.refresh_token
    assert grant(fake, fake.refresh_token).status_code == 200
    answer = httpx.post(fake.base_url + "/_admin/tokens/revoke", json={"refresh_token": "other"})
    assert answer.status_code == 200
    assert grant(fake, fake.refresh_token).status_code == 200


def test_a_revoked_refresh_token_is_refused() -> None:
    with FakeBeProduct.running(seed=7, sizes=SIZES) as own:
        assert grant(own, own.refresh_token).status_code == 200
        httpx.post(own.base_url + "/_admin/tokens/revoke", json={})
        refused = grant(own, own.refresh_token)
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_grant"}


def test_rotation_is_an_option_that_retires_the_used_token() -> None:
    with FakeBeProduct.running(seed=7, sizes=SIZES) as own:
        own.behave(rotate_refresh_tokens=True)
        rotated = grant(own, own.refresh_token).json()["refresh_token"]
        assert rotated != own.refresh_token
        assert grant(own, rotated).status_code == 200
        again = grant(own, rotated)
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant"}


def test_token_endpoint_refuses_a_wrong_client_secret(fake: FakeBeProduct) -> None:
    answer = grant(fake, fake.refresh_token, secret="wrong")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_client"


def test_api_answers_401_without_a_token_and_after_tokens_expire(
    fake: FakeBeProduct, http: httpx.Client
) -> None:
    assert httpx.get(fake.api_base + "Tracking/Folders").status_code == 401
    assert http.get("Tracking/Folders").status_code == 200
    fake.expire_access_tokens()
    assert http.get("Tracking/Folders").status_code == 401


def test_folders_are_a_bare_array_of_the_documented_shape_without_brand(
    fake: FakeBeProduct, http: httpx.Client
) -> None:
    folders = http.get("Tracking/Folders").json()
    assert isinstance(folders, list)
    assert len(folders) == SIZES.folders
    assert set(folders[0]) == {
        "id",
        "name",
        "description",
        "createdAt",
        "modifiedAt",
        "createdBy",
        "modifiedBy",
        "active",
    }
    fake.behave(folder_brand=True)
    try:
        assert "brand" in http.get("Tracking/Folders").json()[0]
    finally:
        fake.behave(folder_brand=False)


def test_every_api_answer_carries_rate_limit_headers_with_a_unix_reset_time(
    http: httpx.Client,
) -> None:
    for answer in (
        http.get("Tracking/Folders"),
        http.post("Tracking/Plans", json={}),
        http.get("Tracking/Plan/00000000-0000-4000-8000-000000000000"),
    ):
        assert int(answer.headers["X-RateLimit-Remaining"]) < int(
            answer.headers["X-RateLimit-Limit"]
        )
        reset = int(answer.headers["X-RateLimit-Reset"])
        assert time.time() < reset <= time.time() + 61


def test_plans_page_from_zero_and_report_the_folder_total(http: httpx.Client) -> None:
    folder_id = http.get("Tracking/Folders").json()[0]["id"]
    seen = []
    for number in range(3):
        page = http.post(
            "Tracking/Plans",
            params={"folderId": folder_id, "pageSize": 2, "pageNumber": number},
            json={},
        ).json()
        assert page["total"] == SIZES.plans
        seen += [p["id"] for p in page["result"]]
    assert len(seen) == len(set(seen)) == SIZES.plans


def test_plan_carries_style_and_material_milestone_definitions(http: httpx.Client) -> None:
    plan = http.post(f"Tracking/Plan/{first_plan(http)['id']}", json={}).json()
    assert len(plan["style"]["timelines"]) == SIZES.milestones
    assert len(plan["material"]["timelines"]) == SIZES.material_milestones
    definition = plan["style"]["timelines"][0]
    assert {"id", "department", "actionDescription", "shortDescription", "pageName"} <= set(
        definition
    )
    assert plan["createdAt"].endswith("Z")
    assert len(plan["createdAt"].split(".")[1]) == 8


def test_unknown_plan_is_404(http: httpx.Client) -> None:
    answer = http.post("Tracking/Plan/00000000-0000-4000-8000-000000000000", json={})
    assert answer.status_code == 404


def test_style_timeline_rows_have_the_rest_shape_and_page(http: httpx.Client) -> None:
    plan_id = first_plan(http)["id"]
    page = http.post(
        f"Tracking/Plan/{plan_id}/Style/Timeline",
        params={"pageSize": 5, "pageNumber": 1},
        json={"filters": None},
    ).json()
    assert page["total"] == SIZES.styles
    assert len(page["result"]) == SIZES.styles - 5
    row = page["result"][0]
    assert set(row["header"]) == {"id", "headerNumber", "headerName", "folder"}
    item = row["timelines"][0]
    assert {
        "id",
        "timelineId",
        "status",
        "plan",
        "rev",
        "final",
        "due",
        "assignedTo",
        "shareWith",
        "late",
        "submitsQuantity",
        "page",
    } <= set(item)
    materials = http.post(f"Tracking/Plan/{plan_id}/Material/Timeline", json={}).json()
    assert materials["total"] == SIZES.materials
    assert materials["result"][0]["header"]["folder"]["name"] == "Material"


def test_modified_at_gte_filter_returns_only_rows_changed_since(
    fake: FakeBeProduct, http: httpx.Client
) -> None:
    plan_id = first_plan(http)["id"]
    row = next(iter(fake.world.plan(plan_id).styles.values()))
    since = _now_text()
    fake.change_milestone(row.id, status="In Progress")
    page = http.post(
        f"Tracking/Plan/{plan_id}/Style/Timeline",
        json={
            "filters": [
                {"field": "ModifiedAt", "operator": "Gte", "value": since},
                {"field": "NoSuchField", "operator": "Eq", "value": "ignored"},
            ]
        },
    ).json()
    assert [r["id"] for r in page["result"]] == [row.id]
    assert page["result"][0]["timelines"][0]["status"] == "In Progress"


def test_id_in_and_not_eq_filters(http: httpx.Client) -> None:
    plan_id = first_plan(http)["id"]
    ids = [
        r["id"]
        for r in http.post(f"Tracking/Plan/{plan_id}/Style/Timeline", json={}).json()["result"]
    ]
    picked = http.post(
        f"Tracking/Plan/{plan_id}/Style/Timeline",
        json={"filters": [{"field": "Id", "operator": "In", "value": ids[:2]}]},
    ).json()
    assert sorted(r["id"] for r in picked["result"]) == sorted(ids[:2])
    rest = http.post(
        f"Tracking/Plan/{plan_id}/Style/Timeline",
        json={"filters": [{"field": "Id", "operator": "NotEq", "value": ids[0]}]},
    ).json()
    assert rest["total"] == len(ids) - 1


def test_edit_updates_milestones_and_bumps_modified_at(
    fake: FakeBeProduct, http: httpx.Client
) -> None:
    plan_id = first_plan(http)["id"]
    row = http.post(f"Tracking/Plan/{plan_id}/Style/Timeline", json={}).json()["result"][2]
    item = row["timelines"][1]
    user = fake.world.users[3]
    answer = http.post(
        f"Tracking/Plan/{plan_id}/Style/Timelines/Edit",
        json=[
            {
                "id": row["id"],
                "timelines": [
                    {
                        "id": item["id"],
                        "status": {"value": "Approved"},
                        "final": {"value": "2025-11-20T00:00:00Z"},
                        "assignedTo": {"add": [user.id], "remove": []},
                    }
                ],
            }
        ],
    )
    assert answer.status_code == 200
    after = fake.world.row(row["id"]).milestone(item["id"])
    assert after.status == "Approved"
    assert user in after.assigned_to
    updated = answer.json()[0]
    assert updated["modifiedAt"] > row["modifiedAt"]


def test_dropped_connection_is_a_network_error_for_the_client(
    fake: FakeBeProduct, http: httpx.Client
) -> None:
    fake.fault(drop=True, times=1, endpoint="folders")
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("Tracking/Folders")
    assert http.get("Tracking/Folders").status_code == 200
    assert fake.count("folders", 0) == 1


def test_status_faults_apply_per_endpoint_for_the_given_number_of_requests(
    fake: FakeBeProduct, http: httpx.Client
) -> None:
    fake.fault(status=429, retry_after=0.25, times=2, endpoint="folders")
    first = http.get("Tracking/Folders")
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "0.25"
    assert http.post(f"Tracking/Plan/{first_plan(http)['id']}", json={}).status_code == 200
    assert http.get("Tracking/Folders").status_code == 429
    assert http.get("Tracking/Folders").status_code == 200
    assert fake.count("folders") == 3
    assert fake.count("folders", 429) == 2


def test_time_window_faults_expire(fake: FakeBeProduct, http: httpx.Client) -> None:
    fake.fault(status=503, seconds=0.2)
    assert http.get("Tracking/Folders").status_code == 503
    time.sleep(0.25)
    assert http.get("Tracking/Folders").status_code == 200


def test_admin_endpoint_sets_faults_and_reports_stats(
    fake: FakeBeProduct, http: httpx.Client
) -> None:
    admin = fake.base_url + "/_admin/"
    made = httpx.post(
        admin + "faults", json={"faults": [{"status": 502, "times": 1}], "replace": True}
    )
    assert made.status_code == 200
    assert made.json()["faults"][0]["status"] == 502
    assert httpx.post(admin + "faults", json={"colour": "red"}).status_code == 400
    assert http.get("Tracking/Folders").status_code == 502
    stats = httpx.get(admin + "stats").json()
    assert stats["requests"]["folders"] == 1
    assert stats["statuses"]["folders"] == {"502": 1}
    assert httpx.delete(admin + "faults").json() == {"faults": []}


def test_latency_overlaps_requests_and_max_in_flight_counts_them(
    fake: FakeBeProduct, http: httpx.Client
) -> None:

    fake.fault(latency=0.2, endpoint="folders")
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda _: http.get("Tracking/Folders").status_code, range(4)))
    assert codes == [200] * 4
    assert fake.max_in_flight == 4


def test_same_seed_gives_the_same_data_and_another_seed_does_not() -> None:

    a, b, c = World(3, SIZES), World(3, SIZES), World(4, SIZES)
    assert [r.id for r in a.rows()] == [r.id for r in b.rows()]
    assert [r.header.name for r in a.rows()] == [r.header.name for r in b.rows()]
    assert a.rows()[0].id != c.rows()[0].id


def test_generated_webhooks_parse_like_real_ones(fake: FakeBeProduct) -> None:
    row = fake.add_style(next(iter(fake.world.plans)))
    created = parse_event(fake.on_create(row))
    assert created.event_type == "OnCreate"
    assert created.record_id.hex == row.id.replace("-", "")
    assert len(created.after.timelines or []) == SIZES.milestones  # type: ignore[union-attr]
    changed = parse_event(fake.on_change(fake.change_milestone(row.id, status="Rejected")))
    assert changed.after.timeline_item.status == "Rejected"  # type: ignore[union-attr]
    assert changed.schema_ is not None
    assert str(changed.schema_.id) == row.milestones[0].timeline_id
    assert changed.date.ticks > created.date.ticks
    deleted = parse_event(fake.on_delete(fake.remove_style(row.id)))
    assert deleted.event_type == "OnDelete"
    assert deleted.date.ticks > changed.date.ticks
    material = fake.world.rows("Material")[0]
    assert parse_event(fake.on_create(material)).master_folder == "Material"


def test_generated_webhook_envelope_matches_the_real_sample_keys(fake: FakeBeProduct) -> None:

    real = load_sample("tracking_oncreate.json")
    made = fake.on_create(fake.world.rows()[0])
    assert set(made) == set(real)
    assert set(made["data"]) == set(real["data"])
    assert set(made["data"]["after"]) == set(real["data"]["after"])
    assert set(made["data"]["after"]["Timelines"][0]) == set(real["data"]["after"]["Timelines"][0])
    assert len(made["date"].split(".")[1]) == 8  # seven digits and the Z
    real_change = load_sample("tracking_onchangetimeline.json")
    change = fake.on_change(fake.world.advance())
    assert set(change["data"]) == set(real_change["data"])
    assert set(change["data"]["timeLineSchema"]) == set(real_change["data"]["timeLineSchema"])


async def test_a_generated_webhook_stream_ingests_without_failures(
    db_url: str, tmp_path: Path
) -> None:
    fake = FakeBeProduct(seed=11, sizes=SIZES)
    bodies = fake.webhook_stream(40)
    for i, body in enumerate(bodies):
        (tmp_path / f"{i:03d}.json").write_bytes(orjson.dumps(body))
    async with await db.aconnect(db_url, autocommit=True) as conn:
        summary = await ingest(conn, [tmp_path], Policy(zone=ZoneInfo("UTC")))
    assert summary.counts["failed"] == 0
    assert summary.counts["stale"] == 0
    assert summary.counts["applied"] == 40
    live = {r.id for r in fake.world.rows()}
    with psycopg.connect(db_url) as conn:
        active = {
            str(i) for (i,) in conn.execute("SELECT id FROM ops.tracking_plan_style WHERE active")
        }
    assert active
    assert active <= live


def _now_text() -> str:

    return fmt_time(now_ticks()) or ""


def test_cli_writes_the_same_webhook_files_for_the_same_seed(tmp_path: Path) -> None:

    args = [
        "fake-beproduct",
        "--folders",
        "1",
        "--plans",
        "2",
        "--styles",
        "3",
        "--milestones",
        "4",
        "webhooks",
        "--count",
        "6",
        "--out",
    ]
    runner = CliRunner()
    first = runner.invoke(app, [*args, str(tmp_path / "a")])
    second = runner.invoke(app, [*args, str(tmp_path / "b")])
    assert first.exit_code == 0, first.output
    assert "wrote 6 webhook bodies" in first.output
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(names) == 6
    assert all(
        (tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in names
    )
    assert second.exit_code == 0

"""The read API under /api/v1: tokens by role, small JSON errors, the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from pydantic import TypeAdapter

from beproduct_sync import db
from beproduct_sync.apply.ingest import ingest
from beproduct_sync.apply.policy import Policy
from beproduct_sync.web.api_v1.models import CriticalPath, Milestone, WorkloadWeek
from beproduct_sync.web.api_v1.pages import Page
from tests.helpers import schedule
from tests.helpers.live_server import SECRETS, live_server
from tests.helpers.samples import SAMPLE_NAMES, sample_path

READ_TOKEN = "read-token-0123456789"
WRITE_TOKEN = "write-token-0123456789"
PLAN_ID = "4b7d6906-1413-44bb-bcdd-47b7f9cc5643"
INTERNALS = ("Traceback", "SELECT", "psycopg", "ops.", 'File "', "pydantic", READ_TOKEN)

# An id no test creates (parameters must be the same in every xdist process).
UNKNOWN = "00000000-0000-4000-8000-00000000dead"


@pytest.fixture
def base(db_url: str) -> Iterator[str]:
    tokens = {
        "beproduct_sync_api_tokens": READ_TOKEN,
        "beproduct_sync_api_write_tokens": WRITE_TOKEN,
    }
    with live_server(db_url, **tokens) as url:
        yield url


def read(token: str = READ_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_small_error(reply: httpx.Response, status: int, code: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert set(body) == {"error", "message"}
    assert body["error"] == code
    assert body["message"]
    assert len(reply.content) < 300
    for word in INTERNALS:
        assert word not in reply.text


async def load_samples(url: str) -> None:
    async with await db.aconnect(url, autocommit=True) as conn:
        await ingest(conn, [sample_path(n) for n in SAMPLE_NAMES], Policy(zone=ZoneInfo("UTC")))


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_credentials"),
        ({"Authorization": "Basic abc"}, "missing_credentials"),
        (read("wrong-token"), "invalid_credentials"),
        # The webhook secret is no API token.
        (read(SECRETS[0]), "invalid_credentials"),
    ],
    ids=["none", "basic", "wrong", "webhook-secret"],
)
def test_the_api_refuses_callers_without_an_api_token(
    base: str, headers: dict[str, str], code: str
) -> None:
    reply = httpx.get(f"{base}/api/v1/tracking/plans", headers=headers)
    assert_small_error(reply, 401, code)
    assert reply.headers["www-authenticate"] == "Bearer"


async def test_a_read_token_lists_the_plans_with_their_counts(db_url: str, base: str) -> None:
    await load_samples(db_url)
    for token in (READ_TOKEN, WRITE_TOKEN):
        reply = httpx.get(f"{base}/api/v1/tracking/plans", headers=read(token))
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert (body["page"], body["page_size"], body["total_items"], body["total_pages"]) == (
            1,
            50,
            1,
            1,
        )
        [plan] = body["items"]
        assert plan["id"] == PLAN_ID
        assert plan["styles"] == 1  # the deleted style no longer counts
        assert plan["materials"] == 0


async def test_a_page_past_the_end_is_empty_with_the_true_total(db_url: str, base: str) -> None:
    await load_samples(db_url)
    reply = httpx.get(f"{base}/api/v1/tracking/plans?page=3&page_size=1", headers=read())
    assert reply.status_code == 200
    assert reply.json() | {"items": None} == {
        "items": None,
        "page": 3,
        "page_size": 1,
        "total_items": 1,
        "total_pages": 1,
    }


@pytest.mark.parametrize(
    "query", ["page=0", "page_size=100000", "page=abc", "active=maybe"], ids=str
)
def test_invalid_parameters_get_a_small_422(base: str, query: str) -> None:
    reply = httpx.get(f"{base}/api/v1/tracking/plans?{query}", headers=read())
    assert_small_error(reply, 422, "invalid_request")
    assert query.partition("=")[0] in reply.json()["message"]


def test_unknown_paths_under_the_api_are_small_404s(base: str) -> None:
    reply = httpx.get(f"{base}/api/v1/tracking/nothing-here", headers=read())
    assert_small_error(reply, 404, "not_found")


def test_the_openapi_document_describes_the_routes_and_bearer_auth(base: str) -> None:
    reply = httpx.get(f"{base}/api/v1/openapi.json")
    assert reply.status_code == 200
    doc = reply.json()
    assert doc["openapi"].startswith("3.")
    assert "/tracking/plans" in doc["paths"]
    assert {"url": "/api/v1"} in doc["servers"]
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    listed = doc["paths"]["/tracking/plans"]["get"]
    assert listed["security"] == [{"HTTPBearer": []}]


# --- the read model over HTTP (the hand-checked plan of tests/helpers/schedule.py) ---------


@pytest.fixture
def fixture_plan(db_url: str) -> Iterator[str]:
    schedule.load(db_url)
    # "Today" for every new connection to this database (the server's pool is opened after).
    with psycopg.connect(db_url, autocommit=True) as conn:
        name = conn.info.dbname
        conn.execute(f"ALTER DATABASE \"{name}\" SET ops_api.today = '{schedule.TODAY}'")
    with live_server(db_url, beproduct_sync_api_tokens=READ_TOKEN) as url:
        yield url


def get(base: str, path: str) -> Any:
    reply = httpx.get(f"{base}/api/v1/tracking{path}", headers=read())
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_plan_details_list_the_definitions_with_their_rules(fixture_plan: str) -> None:
    plan = get(fixture_plan, f"/plans/{schedule.PLAN}")
    assert (plan["name"], plan["end_date"], plan["styles"]) == ("FIXTURE PLAN", "2026-01-13", 1)
    rules = {d["name"]: (d["days"], d["direction"], d["rule_problem"]) for d in plan["definitions"]}
    assert rules["B SUBMIT"] == (3, "AFTER", None)
    assert rules["D LOOP"][2] == "cycle"
    assert rules["G NO RULE"] == (None, None, None)


def test_plan_timeline_pages_and_filters(fixture_plan: str) -> None:
    first = get(fixture_plan, f"/plans/{schedule.PLAN}/timeline?page_size=3")
    assert (first["total_items"], first["total_pages"], len(first["items"])) == (8, 3, 3)
    assert [m["name"] for m in first["items"]] == ["A START", "D LOOP", "E LOOP"]  # by plan date
    late = get(fixture_plan, f"/plans/{schedule.PLAN}/timeline?late_only=true")
    assert late["total_items"] == 5
    assert all(m["is_late_now"] and m["days_late"] > 0 for m in late["items"])
    started = get(fixture_plan, f"/plans/{schedule.PLAN}/timeline?status=in_progress")
    [b] = started["items"]
    assert (b["name"], b["start_date_due"], b["projected_end"]) == (
        "B SUBMIT",
        "2026-01-02",
        "2026-01-10",
    )
    assert b["assigned_to"] == [{"id": str(schedule.USER), "name": "fx.user"}]


def test_plan_progress_and_critical_path(fixture_plan: str) -> None:
    progress = get(fixture_plan, f"/plans/{schedule.PLAN}/progress")
    assert (progress["total"], progress["completed"], progress["late"]) == (8, 1, 5)
    assert progress["by_status"]["not_started"] == 5
    assert progress["health"]["risk_level"] == "low"
    assert progress["by_entity_type"]["style"]["late_entities"] == 1
    path = get(fixture_plan, f"/plans/{schedule.PLAN}/critical-path")
    assert (path["entities"], path["missing_plan_end"], path["plan_end_date"]) == (
        1,
        1,
        "2026-01-13",
    )
    [latest] = path["latest"]
    assert (latest["projected_end"], latest["days_past_plan_end"]) == ("2026-01-15", 2)
    assert [m["name"] for m in path["critical_path"]] == ["B SUBMIT", "C APPROVE"]


def test_entity_timeline_and_node_dependencies(fixture_plan: str) -> None:
    timeline = get(fixture_plan, f"/timeline/style/{schedule.STYLE}?include_completed=false")
    assert timeline["metadata"] == {"total": 8, "completed": 1, "late": 5, "completion_pct": 12.5}
    assert len(timeline["milestones"]) == 7
    bare = get(fixture_plan, f"/timeline/style/{schedule.STYLE}?include_dependencies=false")
    assert {m["predecessor_id"] for m in bare["milestones"]} == {None}
    deps = get(fixture_plan, f"/timeline/node/{schedule.node_id('B SUBMIT')}/dependencies")
    assert deps["node"]["name"] == "B SUBMIT"
    assert deps["predecessor"]["name"] == "A START"
    assert sorted(m["name"] for m in deps["dependents"]) == ["C APPROVE", "F ORPHAN"]


def test_user_assignments_and_workload(fixture_plan: str) -> None:
    mine = get(fixture_plan, f"/users/{schedule.USER}/assignments?late_only=true")
    assert mine["total_items"] == 5
    everything = get(fixture_plan, f"/users/{schedule.USER}/assignments?include_completed=true")
    assert everything["total_items"] == 8
    weeks = get(fixture_plan, "/workload")
    assert [(w["week_start"], w["open_milestones"], w["late_milestones"]) for w in weeks] == [
        ("2026-01-05", 6, 5),
        ("2026-01-12", 1, 0),
    ]


# These routes send their rows' fields as JSON without building their models; the models
# document them. Validating an answer and dumping it again gives the same JSON only when every
# field is there, of its documented type, and nothing else is.
@pytest.mark.parametrize(
    ("path", "shape"),
    [
        (f"/plans/{schedule.PLAN}/timeline", Page[Milestone]),
        (f"/plans/{schedule.PLAN}/critical-path", CriticalPath),
        (f"/users/{schedule.USER}/assignments?include_completed=true", Page[Milestone]),
        ("/workload", list[WorkloadWeek]),
    ],
    ids=["plan-timeline", "critical-path", "assignments", "workload"],
)
def test_answers_sent_as_plain_json_are_their_documented_models(
    fixture_plan: str, path: str, shape: Any
) -> None:
    body = get(fixture_plan, path)
    shaped = TypeAdapter(shape)
    assert body  # something to compare
    assert shaped.dump_python(shaped.validate_python(body), mode="json") == body


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        (f"/plans/{UNKNOWN}/timeline", 404, "not_found"),
        (f"/plans/{UNKNOWN}/progress", 404, "not_found"),
        (f"/plans/{UNKNOWN}/critical-path", 404, "not_found"),
        (f"/plans/{UNKNOWN}", 404, "not_found"),
        (f"/timeline/style/{UNKNOWN}", 404, "not_found"),
        (f"/timeline/node/{UNKNOWN}/dependencies", 404, "not_found"),
        ("/timeline/colour/abc", 422, "invalid_request"),
        (f"/plans/{schedule.PLAN}/timeline?status=late", 422, "invalid_request"),
        ("/plans/not-a-uuid/progress", 422, "invalid_request"),
    ],
)
def test_unknown_ids_and_bad_parameters_get_small_errors(
    fixture_plan: str, path: str, status: int, code: str
) -> None:
    reply = httpx.get(f"{fixture_plan}/api/v1/tracking{path}", headers=read())
    assert_small_error(reply, status, code)


def test_the_openapi_document_lists_every_read_route(base: str) -> None:
    doc = httpx.get(f"{base}/api/v1/openapi.json").json()
    assert set(doc["paths"]) >= {
        "/tracking/plans",
        "/tracking/plans/{plan_id}",
        "/tracking/plans/{plan_id}/timeline",
        "/tracking/plans/{plan_id}/progress",
        "/tracking/plans/{plan_id}/critical-path",
        "/tracking/timeline/{entity_type}/{entity_id}",
        "/tracking/timeline/node/{node_id}/dependencies",
        "/tracking/users/{user_id}/assignments",
        "/tracking/workload",
    }
    assert "Milestone" in doc["components"]["schemas"]
    # Routes answering with plain JSON still document their models.
    paths = doc["paths"]
    answer = "responses", "200", "content", "application/json", "schema"

    def schema(route: str) -> Any:
        found = paths[route]["get"]
        for key in answer:
            found = found[key]
        return found

    assert schema("/tracking/plans/{plan_id}/critical-path") == {
        "$ref": "#/components/schemas/CriticalPath"
    }
    assert schema("/tracking/workload")["items"] == {"$ref": "#/components/schemas/WorkloadWeek"}
    assert "Page_Milestone_" in schema("/tracking/users/{user_id}/assignments")["$ref"]

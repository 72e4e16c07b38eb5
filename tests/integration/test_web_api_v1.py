"""The read API under /api/v1: tokens by role, small JSON errors, the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import ZoneInfo

import httpx
import pytest

from beproduct_sync import db
from beproduct_sync.apply.ingest import ingest
from beproduct_sync.apply.policy import Policy
from tests.helpers.live_server import SECRETS, live_server
from tests.helpers.samples import SAMPLE_NAMES, sample_path

READ_TOKEN = "read-token-0123456789"
WRITE_TOKEN = "write-token-0123456789"
PLAN_ID = "4b7d6906-1413-44bb-bcdd-47b7f9cc5643"
INTERNALS = ("Traceback", "SELECT", "psycopg", "ops.", 'File "', "pydantic", READ_TOKEN)


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

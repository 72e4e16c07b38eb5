"""Reverse sync over HTTP: PATCH /api/v1/tracking/timeline/node/{id} and /bulk record change
requests (write tokens only, Idempotency-Key honoured, small JSON errors)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest

from tests.helpers.live_server import live_server
from tests.integration.test_web_api_v1 import (
    READ_TOKEN,
    WRITE_TOKEN,
    assert_small_error,
    load_samples,
    read,
)

MILESTONE = "0f492c0a-f892-4eac-a278-5b4e29a3b044"
OTHER = "22de7988-28fb-4e6f-b3b0-1083453e2a11"
USER = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
async def base(db_url: str) -> AsyncIterator[str]:
    await load_samples(db_url)
    tokens = {
        "beproduct_sync_api_tokens": READ_TOKEN,
        "beproduct_sync_api_write_tokens": WRITE_TOKEN,
    }
    with live_server(db_url, **tokens) as url:
        yield url


def node(base: str, milestone: str = MILESTONE) -> str:
    return f"{base}/api/v1/tracking/timeline/node/{milestone}"


def write(key: str | None = None) -> dict[str, str]:
    headers = read(WRITE_TOKEN)
    if key:
        headers["Idempotency-Key"] = key
    return headers


def requests_of(db_url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT idempotency_key, milestone_id::text, change, state"
            " FROM ops.timeline_change_request ORDER BY id"
        ).fetchall()


def test_a_write_token_records_a_change_once_per_idempotency_key(db_url: str, base: str) -> None:
    body = {"status": "approved", "rev_date": "2026-04-01", "assignees_add": [USER]}
    first = httpx.patch(node(base), json=body, headers=write("k-1"))
    assert first.status_code == 202, first.text
    made = first.json()["request"]
    assert made["state"] == "pending" and made["created"] is True
    assert made["change"] == {
        "status": "approved",
        "rev_date": "2026-04-01",
        "assignees_add": [USER],
    }
    again = httpx.patch(node(base), json=body, headers=write("k-1"))
    assert again.status_code == 200
    assert again.json()["request"]["id"] == made["id"]
    other = httpx.patch(node(base), json={"status": "na"}, headers=write("k-1"))
    assert_small_error(other, 409, "idempotency_key_reused")
    assert requests_of(db_url) == [("k-1", MILESTONE, made["change"], "pending")]


def test_a_read_token_may_not_change_anything(db_url: str, base: str) -> None:
    reply = httpx.patch(node(base), json={"status": "approved"}, headers=read(READ_TOKEN))
    assert_small_error(reply, 403, "forbidden")
    missing = httpx.patch(node(base), json={"status": "approved"})
    assert_small_error(missing, 401, "missing_credentials")
    assert requests_of(db_url) == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"status": "bogus"}, 400, "invalid_change"),
        ({}, 400, "invalid_change"),
        ({"colour": "red"}, 422, "invalid_request"),
        ({"rev_date": "2026-02-30"}, 422, "invalid_request"),
        ({"assignees_add": ["not-a-uuid"]}, 422, "invalid_request"),
    ],
    ids=["unknown-status", "empty", "unknown-field", "bad-date", "bad-user"],
)
def test_bad_changes_get_small_errors(
    db_url: str, base: str, body: dict[str, object], status: int, code: str
) -> None:
    assert_small_error(httpx.patch(node(base), json=body, headers=write()), status, code)
    assert requests_of(db_url) == []


def test_an_unknown_milestone_is_a_404(base: str) -> None:
    reply = httpx.patch(node(base, str(uuid.uuid4())), json={"status": "na"}, headers=write())
    assert_small_error(reply, 404, "not_found")


def test_a_null_date_clears_it_and_the_base_is_kept(db_url: str, base: str) -> None:
    body = {"final_date": None, "base": {"status": "not_started"}, "force": False}
    reply = httpx.patch(node(base), json=body, headers=write("clear"))
    assert reply.status_code == 202, reply.text
    made = reply.json()["request"]
    assert made["change"] == {"final_date": None}
    assert made["base"] == {"status": "not_started", "given": True}


def test_bulk_records_each_update_and_answers_per_update(db_url: str, base: str) -> None:
    updates = [
        {"node_id": MILESTONE, "status": "in_progress"},
        {"node_id": str(uuid.uuid4()), "status": "in_progress"},
        {"node_id": OTHER, "status": "nonsense"},
        {"node_id": OTHER, "rev_date": "2026-05-05", "idempotency_key": "own-key"},
    ]
    first = httpx.patch(
        f"{base}/api/v1/tracking/timeline/bulk", json={"updates": updates}, headers=write("bulk")
    )
    assert first.status_code == 207, first.text
    results = first.json()["results"]
    assert [r["status"] for r in results] == [202, 404, 400, 202]
    assert results[1]["error"] == "not_found"
    assert results[2]["error"] == "invalid_change"
    again = httpx.patch(
        f"{base}/api/v1/tracking/timeline/bulk", json={"updates": updates}, headers=write("bulk")
    )
    assert [r["status"] for r in again.json()["results"]] == [200, 404, 400, 200]
    assert [k for k, *_ in requests_of(db_url)] == ["bulk:0", "own-key"]


def test_the_openapi_document_lists_the_patch_routes(base: str) -> None:
    doc = httpx.get(f"{base}/api/v1/openapi.json").json()
    assert "patch" in doc["paths"]["/tracking/timeline/node/{node_id}"]
    assert "patch" in doc["paths"]["/tracking/timeline/bulk"]

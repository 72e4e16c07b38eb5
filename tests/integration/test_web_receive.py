"""The webhook endpoint stores every good delivery durably before acknowledging it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.helpers.live_server import auth, live_server, webhook_url
from tests.helpers.samples import load_sample, sample_path


@pytest.fixture
def base(db_url: str) -> Iterator[str]:
    with live_server(db_url) as url:
        yield url


def rows(db_url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute(
            "SELECT id, action, entity_id, status, deliveries, payload"
            " FROM ops.beproduct_sync_log ORDER BY id"
        ).fetchall()


def test_a_tracking_event_is_stored_pending_and_acknowledged_with_202(
    base: str, db_url: str
) -> None:
    body = sample_path("tracking_oncreate.json").read_bytes()
    reply = httpx.post(webhook_url(base), content=body, headers=auth())
    assert reply.status_code == 202
    assert reply.headers["content-type"] == "application/json"
    stored = rows(db_url)
    assert reply.json() == {"id": stored[0][0], "duplicate": False}
    event = load_sample("tracking_oncreate.json")
    assert [r[1:5] for r in stored] == [("OnCreate", event["headerId"], "pending", 1)]
    assert stored[0][5] == event


def test_a_duplicate_delivery_answers_200_and_keeps_one_row_with_two_deliveries(
    base: str, db_url: str
) -> None:
    body = sample_path("tracking_ondelete.json").read_bytes()
    first = httpx.post(webhook_url(base), content=body, headers=auth())
    again = httpx.post(webhook_url(base), content=body, headers=auth())
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == {"id": first.json()["id"], "duplicate": True}
    assert [(r[0], r[4]) for r in rows(db_url)] == [(first.json()["id"], 2)]


def test_the_same_event_with_other_key_order_and_whitespace_is_a_duplicate(
    base: str, db_url: str
) -> None:
    event = load_sample("tracking_onchangetimeline.json")
    reordered = json.dumps(dict(reversed(list(event.items()))), indent=4)
    first = httpx.post(webhook_url(base), content=json.dumps(event), headers=auth())
    again = httpx.post(webhook_url(base), content=reordered, headers=auth())
    assert (first.status_code, again.status_code) == (202, 200)
    assert len(rows(db_url)) == 1


def test_the_row_is_visible_to_other_sessions_as_soon_as_the_202_arrives(
    base: str, db_url: str
) -> None:
    reply = httpx.post(webhook_url(base), json={"eventType": "OnChange", "n": 1}, headers=auth())
    with psycopg.connect(db_url) as conn:
        found = conn.execute(
            "SELECT status FROM ops.beproduct_sync_log WHERE id = %s", (reply.json()["id"],)
        ).fetchone()
    assert found == ("pending",)


def test_a_commit_that_fails_is_never_acknowledged(base: str, db_url: str) -> None:
    # A deferred constraint trigger runs at COMMIT: if the service answered before committing,
    # the sender would get a 2xx for an event that was never stored.
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION ops.refuse() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$"
        )
        conn.execute(
            "CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON ops.beproduct_sync_log"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ops.refuse()"
        )
    reply = httpx.post(webhook_url(base), json={"eventType": "OnCreate"}, headers=auth())
    assert reply.status_code == 500
    assert reply.json()["error"] == "internal"
    assert "refused" not in reply.text
    assert rows(db_url) == []


def test_a_new_event_notifies_the_workers_channel_with_its_id(base: str, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN beproduct_sync_inbox")
        reply = httpx.post(webhook_url(base), json={"eventType": "OnDelete"}, headers=auth())
        heard = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    assert heard == [str(reply.json()["id"])]


def test_json_that_is_not_a_tracking_event_is_still_stored(base: str, db_url: str) -> None:
    replies = [
        httpx.post(webhook_url(base), content=body, headers=auth())
        for body in (b'{"eventType": "OnStyleChange"}', b"[1, 2]", b'"text"', b"null")
    ]
    assert [r.status_code for r in replies] == [202, 202, 202, 202]
    assert [r[5] for r in rows(db_url)] == [{"eventType": "OnStyleChange"}, [1, 2], "text", None]


def test_a_charset_parameter_on_the_content_type_is_accepted(base: str) -> None:
    headers = {**auth(), "Content-Type": "Application/JSON; charset=utf-8"}
    reply = httpx.post(webhook_url(base), content=b'{"eventType": "OnCreate"}', headers=headers)
    assert reply.status_code == 202


def test_concurrent_deliveries_of_one_event_store_it_once(base: str, db_url: str) -> None:
    body = sample_path("tracking_oncreate.json").read_bytes()
    codes: list[int] = []

    def post() -> None:
        codes.append(httpx.post(webhook_url(base), content=body, headers=auth()).status_code)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] * 7 + [202]
    assert [r[4] for r in rows(db_url)] == [8]

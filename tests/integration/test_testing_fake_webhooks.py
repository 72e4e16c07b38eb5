"""The fake closes reverse sync's loop: Edit validates and changes its data, and the resulting
OnChange webhooks reach a configured URL (with the secret, delayed, some twice); an admin
endpoint changes a milestone "in BeProduct"."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson
import pytest

from beproduct_sync.model.webhook import parse_event
from beproduct_sync.testing.fake import FakeBeProduct, Sizes
from beproduct_sync.testing.fake.behaviour import Behaviour

SIZES = Sizes(folders=1, plans=1, styles=2, milestones=3, materials=0)


class Inbox:
    """A tiny webhook receiver: every POST's Authorization header and JSON body."""

    def __init__(self) -> None:
        self.received: list[tuple[str | None, dict[str, Any]]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                inbox.received.append((self.headers.get("Authorization"), orjson.loads(body)))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"got {len(self.received)} of {count} webhooks"
            time.sleep(0.02)


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox()
    yield box
    box.server.shutdown()
    box.server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeBeProduct]:
    behaviour = Behaviour(webhook_delay_seconds=0.2, webhook_duplicate_fraction=1.0)
    with FakeBeProduct.running(seed=3, sizes=SIZES, behaviour=behaviour) as running:
        yield running


@pytest.fixture
def http(fake: FakeBeProduct) -> Iterator[httpx.Client]:
    token = httpx.post(
        fake.token_url,
        data={
            "grant_type": "refresh_token",
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "refresh_token": fake.refresh_token,
        },
    ).json()["access_token"]
    with httpx.Client(
        base_url=fake.api_base, headers={"Authorization": f"Bearer {token}"}, timeout=5
    ) as client:
        yield client


def edit_path(fake: FakeBeProduct) -> str:
    return f"Tracking/Plan/{next(iter(fake.world.plans))}/Style/Timelines/Edit"


def test_an_edit_naming_an_unknown_milestone_is_400_with_a_message_and_changes_nothing(
    fake: FakeBeProduct, http: httpx.Client
) -> None:
    row = fake.world.rows()[0]
    good = row.milestones[0]
    before = good.status
    body = [
        {
            "id": row.id,
            "timelines": [
                {"id": good.id, "status": {"value": "Complete"}},
                {"id": "00000000-0000-0000-0000-00000000beef", "status": {"value": "Complete"}},
            ],
        }
    ]
    answer = http.post(edit_path(fake), json=body)
    assert answer.status_code == 400
    assert "00000000-0000-0000-0000-00000000beef" in answer.json()["message"]
    assert fake.world.row(row.id).milestone(good.id).status == before
    bad_status = http.post(
        edit_path(fake),
        json=[{"id": row.id, "timelines": [{"id": good.id, "status": {"value": "Done-ish"}}]}],
    )
    assert bad_status.status_code == 400
    assert "not a valid timeline status" in bad_status.json()["message"]
    unknown_row = http.post(edit_path(fake), json=[{"id": good.id, "timelines": []}])
    assert unknown_row.status_code == 400


def test_an_edit_sends_one_onchange_per_changed_milestone_with_the_secret(
    fake: FakeBeProduct, http: httpx.Client, inbox: Inbox
) -> None:
    fake.send_webhooks_to(inbox.url, "hook-secret")
    row = fake.world.rows()[0]
    a, b, c = row.milestones
    body = [
        {
            "id": row.id,
            "timelines": [
                {"id": a.id, "status": {"value": "Approved"}},
                {"id": b.id, "rev": {"value": "2026-04-01T00:00:00Z"}},
                {"id": c.id, "status": {"value": c.status}},  # no change: no webhook
            ],
        }
    ]
    assert http.post(edit_path(fake), json=body).status_code == 200
    inbox.wait_for(4)  # two changed milestones, each delivered twice (duplicate fraction 1)
    # Two bodies were queued in all: the unchanged third milestone is announced by none.
    assert fake.sender.stats.queued == 2
    deadline = time.monotonic() + 20
    while fake.sender.pending():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert len(inbox.received) == 4
    assert {auth for auth, _ in inbox.received} == {"Bearer hook-secret"}
    events = [parse_event(body) for _, body in inbox.received]
    assert {e.event_type for e in events} == {"OnChange"}
    items = {b["data"]["after"]["TimeLineItem"]["Id"] for _, b in inbox.received}
    assert items == {a.id, b.id}
    after_a = next(
        b["data"]["after"]["TimeLineItem"]
        for _, b in inbox.received
        if b["data"]["after"]["TimeLineItem"]["Id"] == a.id
    )
    assert after_a["Status"].lower() == "approved"
    assert fake.sender.stats.to_json()["delivered"] == 4


def test_the_admin_endpoint_changes_a_milestone_in_beproduct_and_announces_it(
    fake: FakeBeProduct, inbox: Inbox
) -> None:
    admin = httpx.Client(base_url=fake.base_url, timeout=5)
    assert (
        admin.post("/_admin/webhooks", json={"url": inbox.url, "secret": "s"}).json()["url"]
        == inbox.url
    )
    row = fake.world.rows()[1]
    m = row.milestones[2]
    quiet = admin.post(
        "/_admin/milestone",
        json={"row_id": row.id, "milestone_id": m.id, "status": "Rejected", "notify": False},
    )
    assert quiet.status_code == 200 and quiet.json()["notified"] is False
    assert fake.world.row(row.id).milestone(m.id).status == "Rejected"
    loud = admin.post(
        "/_admin/milestone", json={"row_id": row.id, "milestone_id": m.id, "status": "Complete"}
    )
    assert loud.json()["notified"] is True
    inbox.wait_for(1)
    (_, body) = inbox.received[0]
    assert body["data"]["before"]["TimeLineItem"]["Status"].lower() == "rejected"
    assert body["data"]["after"]["TimeLineItem"]["Status"].lower() == "complete"
    missing = admin.post("/_admin/milestone", json={"row_id": "nope"})
    assert missing.status_code == 404
    admin.close()

"""Reverse sync end to end: `serve` (or `worker`) as real processes, the fake BeProduct as a real
HTTP server that delivers the OnChange webhooks of our writes back to `serve`."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from beproduct_sync import db
from beproduct_sync.model.body import canonical, digest
from beproduct_sync.testing.fake import FakeBeProduct, Sizes
from beproduct_sync.testing.fake.behaviour import Behaviour
from beproduct_sync.testing.fake.model import Row
from beproduct_sync.web.app import WEBHOOK_PATH
from tests.helpers.apply import apply_one
from tests.helpers.cli import SECRET, Served, env_with, run_cli, serving
from tests.helpers.samples import load_sample
from tests.helpers.workers import make_runtime, start_worker, store

pytestmark = pytest.mark.slow

SIZES = Sizes(folders=1, plans=2, styles=3, milestones=4, materials=1)


def settings_env(db_url: str, fake: FakeBeProduct, **more: str) -> dict[str, str]:
    return env_with(
        DATABASE_URL=db_url,
        BEPRODUCT_WEBHOOK_SECRET=SECRET,
        BEPRODUCT_SYNC_POLL_SECONDS="0.1",
        BEPRODUCT_SYNC_OUTBOX_POLL_SECONDS="0.1",
        BEPRODUCT_SYNC_OUTBOX_RETRY_BASE_SECONDS="0.2",
        BEPRODUCT_SYNC_OUTBOX_RETRY_MAX_SECONDS="0.5",
        BEPRODUCT_API_BACKOFF_BASE_SECONDS="0.05",
        BEPRODUCT_API_BACKOFF_MAX_SECONDS="0.1",
        **fake.env(),
        **more,
    )


@pytest.fixture
def fake() -> Iterator[FakeBeProduct]:
    # Webhooks wait up to 0.4 s each (so they may arrive out of order) and half come twice.
    behaviour = Behaviour(webhook_delay_seconds=0.4, webhook_duplicate_fraction=0.5)
    with FakeBeProduct.running(seed=7, sizes=SIZES, behaviour=behaviour) as f:
        yield f


def until(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def one(db_url: str, sql: str, params: Any = None) -> Any:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(sql, params).fetchone()
    return None if row is None else row[0]


def request(db_url: str, milestone_id: str, key: str, change: dict[str, Any], **kw: Any) -> Any:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT ops_api.request_timeline_change(%s, %s, %s::jsonb, %s::jsonb, %s)",
            (
                milestone_id,
                key,
                json.dumps(change),
                json.dumps(kw["base"]) if "base" in kw else None,
                kw.get("force", False),
            ),
        ).fetchone()
    assert row is not None
    return row[0]


def stored_request(db_url: str, request_id: int) -> dict[str, Any]:
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        found = conn.execute(
            "SELECT * FROM ops.timeline_change_request WHERE id = %s", (request_id,)
        ).fetchone()
    assert found is not None
    return found


def reached(db_url: str, request_id: int, *states: str) -> Callable[[], Any]:
    def check() -> Any:
        row = stored_request(db_url, request_id)
        return row if row["state"] in states else None

    return check


def announce(served: Served, fake: FakeBeProduct, row: Row) -> None:
    """BeProduct tells us about the row (OnCreate), and it is applied."""
    resp = httpx.post(
        served.base + WEBHOOK_PATH,
        json=fake.on_create(row),
        headers={"Authorization": f"Bearer {SECRET}"},
        timeout=10,
    )
    assert resp.status_code in (200, 202), resp.text
    until(
        lambda: one(
            served_db(served),
            "SELECT (SELECT count(*) FROM ops.tracking_plan_style_timeline"
            "        WHERE plan_style_id = %s)"
            " + (SELECT count(*) FROM ops.tracking_plan_material_timeline"
            "    WHERE plan_material_id = %s)",
            (row.id, row.id),
        ),
        what="the OnCreate to be applied",
    )


_DB: dict[str, str] = {}


def served_db(served: Served) -> str:
    return _DB[served.base]


@contextmanager
def service(
    tmp_path: Path, db_url: str, fake: FakeBeProduct, *args: str, **env: str
) -> Iterator[Served]:
    with serving(tmp_path, settings_env(db_url, fake, **env), *args) as served:
        _DB[served.base] = db_url
        fake.send_webhooks_to(served.base + WEBHOOK_PATH, SECRET)
        yield served


def fake_milestone(fake: FakeBeProduct, row: Row, index: int = 0) -> Any:
    with fake.world.lock:
        return fake.world.row(row.id).milestones[index]


def first_row(fake: FakeBeProduct) -> Row:
    return fake.world.rows("Style")[0]


def applied_events_for(db_url: str, milestone_id: str) -> int:
    return int(
        one(
            db_url,
            "SELECT count(*) FROM ops.beproduct_sync_log WHERE status IN ('applied', 'stale')"
            " AND payload #>> '{data,after,TimeLineItem,Id}' = %s",
            (milestone_id,),
        )
    )


def test_a_change_round_trips_through_beproduct_and_its_echo_confirms_it(
    db_url: str, fake: FakeBeProduct, tmp_path: Path
) -> None:
    with service(tmp_path, db_url, fake) as served:
        row = first_row(fake)
        announce(served, fake, row)
        m = fake_milestone(fake, row)
        user = fake.world.users[3]
        made = request(
            db_url,
            m.id,
            "round-trip-1",
            {"status": "approved", "rev_date": "2026-04-01", "assignees_add": [user.id]},
        )
        assert made["created"] is True and made["state"] == "pending"
        done = until(reached(db_url, made["id"], "confirmed"), what="confirmation")
        # BeProduct's own webhook for our write confirmed it, never a conflict.
        assert done["confirmed_by"] == "echo"
        assert done["confirmed_event_id"] is not None
        assert done["conflict"] is None
        now = fake_milestone(fake, row)
        assert now.status == "Approved"
        assert now.rev is not None
        assert user in now.assigned_to
        with psycopg.connect(db_url) as conn:
            ours = conn.execute(
                "SELECT status::text, rev_date::text,"
                " %s = ANY (SELECT assignee_id::text FROM ops.tracking_timeline_assignment"
                "           WHERE timeline_id = t.id)"
                " FROM ops.tracking_plan_style_timeline t WHERE id = %s",
                (user.id, m.id),
            ).fetchone()
        assert ours == ("APPROVED", "2026-04-01", True)
        # One Edit call; the echo (delivered once or twice) applied once.
        assert fake.count("style_edit") == 1
        until(lambda: fake.sender.pending() == 0, what="all webhooks delivered")
        assert applied_events_for(db_url, m.id) == 1
        status = run_cli("status", "--json", env=settings_env(db_url, fake))
        assert json.loads(status.stdout)["change_requests"]["confirmed"] == 1
        # serve's /metrics shows its worker child's sender (refreshed every few seconds).
        until(
            lambda: (
                'beproduct_sync_outbox_requests{state="confirmed"} 1.0'
                in httpx.get(served.base + "/metrics").text
            ),
            what="the outbox gauge",
        )


def test_a_change_made_in_beproduct_meanwhile_is_a_conflict_and_nothing_is_overwritten(
    db_url: str, fake: FakeBeProduct, tmp_path: Path
) -> None:
    with service(tmp_path, db_url, fake) as served:
        row = first_row(fake)
        announce(served, fake, row)
        m = fake_milestone(fake, row)
        # Someone changes it in BeProduct; its webhook has not reached us yet (our row still
        # shows the old status): only the re-read right before the write can tell.
        fake.change_in_beproduct(row.id, m.id, status="Rejected", notify=False)
        made = request(db_url, m.id, "conflict-api", {"status": "complete"})
        done = until(reached(db_url, made["id"], "conflict"), what="a conflict")
        assert done["conflict"]["fields"] == ["status"]
        assert done["conflict"]["detected_by"] == "beproduct"
        assert done["conflict"]["theirs"]["status"] == "rejected"
        assert done["conflict"]["wanted"] == {"status": "complete"}
        assert fake_milestone(fake, row).status == "Rejected"
        assert fake.count("style_edit") == 0

        # Now BeProduct's webhook arrives first; a request made with the old values as its
        # base is refused against our own row, before any API call.
        m2 = fake_milestone(fake, row, 1)
        old = m2.status
        fake.change_in_beproduct(row.id, m2.id, status="Waiting On")
        until(
            lambda: one(
                db_url,
                "SELECT status::text = 'WAITING_ON' FROM ops.tracking_plan_style_timeline"
                " WHERE id = %s",
                (m2.id,),
            ),
            what="BeProduct's change to arrive",
        )
        made2 = request(db_url, m2.id, "conflict-db", {"status": "complete"}, base={"status": old})
        done2 = until(reached(db_url, made2["id"], "conflict"), what="a conflict")
        assert done2["conflict"]["detected_by"] == "database"
        assert fake_milestone(fake, row, 1).status == "Waiting On"
        assert fake.count("style_edit") == 0
        listed = run_cli("outbox", "--status", "conflict", "--json", env=settings_env(db_url, fake))
        assert {r["id"] for r in json.loads(listed.stdout)["requests"]} == {
            made["id"],
            made2["id"],
        }
        # Forcing it through on purpose overwrites.
        retried = run_cli(
            "outbox", "--retry", str(made["id"]), "--force", env=settings_env(db_url, fake)
        )
        assert retried.returncode == 0, retried.stderr
        until(reached(db_url, made["id"], "confirmed"), what="the forced request")
        assert fake_milestone(fake, row).status == "Complete"


def test_duplicate_requests_with_one_idempotency_key_are_sent_once(
    db_url: str, fake: FakeBeProduct, tmp_path: Path
) -> None:
    with service(tmp_path, db_url, fake) as served:
        row = first_row(fake)
        announce(served, fake, row)
        m = fake_milestone(fake, row)
        partner = fake.world.partners[0]
        change = {"status": "in_progress", "share_add": [partner.id]}
        ids = {request(db_url, m.id, "same-key", change)["id"] for _ in range(5)}
        again = run_cli(
            "change",
            m.id,
            "--status",
            "In Progress",
            "--share",
            partner.id,
            "--key",
            "same-key",
            "--json",
            env=settings_env(db_url, fake),
        )
        assert again.returncode == 0, again.stderr
        ids.add(json.loads(again.stdout)["id"])
        assert len(ids) == 1
        (request_id,) = ids
        until(reached(db_url, request_id, "confirmed"), what="confirmation")
        assert one(db_url, "SELECT count(*) FROM ops.timeline_change_request") == 1
        assert fake.count("style_edit") == 1
        assert [p.id for p in fake_milestone(fake, row).share_with].count(partner.id) == 1
        # The same key for another change is refused, with a message for people.
        other = run_cli(
            "change",
            m.id,
            "--status",
            "complete",
            "--key",
            "same-key",
            env=settings_env(db_url, fake),
        )
        assert other.returncode == 2
        assert "already used for a different change" in other.stderr


def test_an_api_outage_is_retried_and_then_the_change_goes_through(
    db_url: str, fake: FakeBeProduct, tmp_path: Path
) -> None:
    with service(tmp_path, db_url, fake, BEPRODUCT_API_MAX_RETRIES="0") as served:
        row = first_row(fake)
        announce(served, fake, row)
        m = fake_milestone(fake, row)
        fake.fault(status=503, endpoint="style_edit", times=3)
        made = request(db_url, m.id, "outage", {"final_date": "2026-03-03"})
        done = until(reached(db_url, made["id"], "confirmed"), what="confirmation")
        assert done["attempts"] == 3
        assert "503" in done["last_error"]
        assert fake.count("style_edit", 503) == 3
        assert fake.count("style_edit", 200) == 1
        assert fake_milestone(fake, row).final is not None


def test_an_unknown_milestone_in_beproduct_is_rejected_with_its_message(
    db_url: str, fake: FakeBeProduct, tmp_path: Path
) -> None:
    with service(tmp_path, db_url, fake) as served:
        row = first_row(fake)
        announce(served, fake, row)
        keep, gone = fake_milestone(fake, row, 0), fake_milestone(fake, row, 1)
        # Both are stored here; BeProduct no longer has the second one.
        with fake.world.lock:
            fake.world.row(row.id).milestones.remove(gone)
        first = request(db_url, keep.id, "ok", {"status": "complete"})
        second = request(db_url, gone.id, "gone", {"status": "complete"})
        rejected = until(reached(db_url, second["id"], "rejected"), what="rejection")
        assert "no such milestone" in rejected["last_error"]
        until(reached(db_url, first["id"], "confirmed"), what="the good one")


def test_sigkill_mid_send_ends_with_exactly_the_requested_state_in_beproduct(
    db_url: str, fake: FakeBeProduct, tmp_path: Path
) -> None:
    # `serve` only receives here; the worker process applies and sends, and is killed while
    # BeProduct is answering its Edit.
    with service(tmp_path, db_url, fake, "--workers", "0") as served:
        env = {
            **fake.env(),
            "BEPRODUCT_SYNC_OUTBOX_LEASE_SECONDS": "2",
            "BEPRODUCT_SYNC_OUTBOX_POLL_SECONDS": "0.1",
        }
        first = start_worker(db_url, tmp_path / "worker1.log", **env)
        try:
            row = first_row(fake)
            announce(served, fake, row)
            m = fake_milestone(fake, row)
            user = fake.world.users[5]
            fake.fault(latency=2.0, endpoint="style_edit", times=1)
            made = request(
                db_url, m.id, "killed", {"status": "approved", "assignees_add": [user.id]}
            )
            # Counted when it arrives, answered 2 s later: kill the sender in between.
            until(lambda: fake.count("style_edit") >= 1, what="the Edit to be in flight")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
        assert stored_request(db_url, made["id"])["state"] == "sending"
        second = start_worker(db_url, tmp_path / "worker2.log", **env)
        try:
            done = until(reached(db_url, made["id"], "confirmed"), what="confirmation")
        finally:
            second.send_signal(signal.SIGTERM)
            try:
                second.wait(30)
            except subprocess.TimeoutExpired:
                second.kill()
                second.wait()
        # Confirmed by the echo of the killed attempt's write (if BeProduct applied it), or by
        # the second sender: its re-read finds the write landed, or it sends it again.
        assert done["confirmed_by"] in ("echo", "already")
        now = fake_milestone(fake, row)
        assert now.status == "Approved"
        assert [u.id for u in now.assigned_to].count(user.id) == 1
        # BeProduct holds exactly what was asked, whether the killed attempt landed or not.
        assert fake.count("style_edit") in (1, 2)


def test_the_change_cli_and_sql_function_refuse_bad_input_with_clear_messages(
    db_url: str, fake: FakeBeProduct, tmp_path: Path
) -> None:
    env = settings_env(db_url, fake)
    unknown = run_cli("change", str(uuid.uuid4()), "--status", "approved", env=env)
    assert unknown.returncode == 2
    assert "no milestone" in unknown.stderr and "Traceback" not in unknown.stderr
    nothing = run_cli("change", str(uuid.uuid4()), env=env)
    assert nothing.returncode == 2 and "say what to change" in nothing.stderr
    with psycopg.connect(db_url) as conn, pytest.raises(psycopg.errors.InvalidParameterValue):
        conn.execute(
            "SELECT ops_api.request_timeline_change(%s, 'k', '{\"colour\": 1}')",
            (str(uuid.uuid4()),),
        )


def test_successive_changes_of_one_milestone_go_out_in_order_and_our_echo_is_no_conflict(
    db_url: str, fake: FakeBeProduct, tmp_path: Path
) -> None:
    with service(tmp_path, db_url, fake) as served:
        row = first_row(fake)
        announce(served, fake, row)
        m = fake_milestone(fake, row)
        # Recorded at once: the later ones' bases cannot show what the earlier ones set.
        made = [
            request(db_url, m.id, f"step-{i}", {"status": status})
            for i, status in enumerate(("in_progress", "waiting_on", "complete"))
        ]
        for r in made:
            done = until(reached(db_url, r["id"], "confirmed", "conflict"), what="settled")
            assert done["state"] == "confirmed", done["conflict"]
        assert fake_milestone(fake, row).status == "Complete"
        assert fake.count("style_edit") == 3


def test_without_an_echo_a_sent_change_is_confirmed_by_reading_it_back(
    db_url: str, fake: FakeBeProduct, tmp_path: Path
) -> None:
    env = settings_env(db_url, fake, BEPRODUCT_SYNC_OUTBOX_CONFIRM_SECONDS="1")
    with serving(tmp_path, env) as served:
        _DB[served.base] = db_url  # BeProduct sends us no webhooks at all here
        row = first_row(fake)
        announce(served, fake, row)
        m = fake_milestone(fake, row)
        made = request(db_url, m.id, "no-echo", {"status": "na"})
        done = until(reached(db_url, made["id"], "confirmed"), what="confirmation")
        assert done["confirmed_by"] == "readback"
        assert done["confirmed_event_id"] is None
        assert done["sent_at"] is not None
        assert fake.sender.stats.queued == 0
        # One re-read before the write, one read-back after it.
        assert fake.count("style_timeline") == 2


def test_a_material_milestone_changed_over_http_round_trips(
    db_url: str, fake: FakeBeProduct, tmp_path: Path
) -> None:
    token = "reverse-write-token-0123"
    with service(tmp_path, db_url, fake, BEPRODUCT_SYNC_API_WRITE_TOKENS=token) as served:
        row = fake.world.rows("Material")[0]
        announce(served, fake, row)
        m = fake_milestone(fake, row)
        reply = httpx.patch(
            f"{served.base}/api/v1/tracking/timeline/node/{m.id}",
            json={"status": "waiting_on", "final_date": "2026-06-30"},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "mat-1"},
        )
        assert reply.status_code == 202, reply.text
        made = reply.json()["request"]
        assert made["entity_type"] == "material"
        done = until(reached(db_url, made["id"], "confirmed"), what="confirmation")
        assert done["confirmed_by"] == "echo"
        assert fake.count("material_edit") == 1
        assert fake.count("style_edit") == 0
        now = fake_milestone(fake, row)
        assert now.status == "Waiting On"
        assert (
            one(
                db_url,
                "SELECT final_date::text FROM ops.tracking_plan_material_timeline WHERE id = %s",
                (m.id,),
            )
            == "2026-06-30"
        )


def test_a_4xx_from_the_edit_rejects_only_the_bad_request_with_beproducts_message(
    db_url: str, fake: FakeBeProduct, tmp_path: Path
) -> None:
    with service(tmp_path, db_url, fake) as served:
        row = first_row(fake)
        announce(served, fake, row)
        gone, kept = fake_milestone(fake, row, 0), fake_milestone(fake, row, 1)

        def remove_gone() -> None:
            with fake.world.lock:
                fake.world.row(row.id).milestones.remove(gone)

        # The milestone disappears from BeProduct right after the sender's re-read saw it:
        # BeProduct's Edit refuses the whole body.
        fake.after_page("Style", remove_gone)
        with psycopg.connect(db_url) as conn:  # one transaction: one batch
            ids = [
                conn.execute(
                    "SELECT (ops_api.request_timeline_change(%s, %s, %s::jsonb) ->> 'id')::int",
                    (m.id, f"edit-4xx-{i}", json.dumps({"status": "complete"})),
                ).fetchone()
                for i, m in enumerate((gone, kept))
            ]
        (bad,), (good,) = ids  # type: ignore[misc]
        rejected = until(reached(db_url, bad, "rejected"), what="the rejection")
        assert rejected["last_error"].startswith("BeProduct rejected the edit: HTTP 400: ")
        assert f"Timeline item {gone.id} was not found" in rejected["last_error"]
        assert rejected["beproduct_response"]["error"] == "bad_request"
        until(reached(db_url, good, "confirmed"), what="the good one")
        assert fake_milestone(fake, row, 0).status == "Complete"  # `kept` is first now
        assert fake.count("style_edit", 400) == 2  # the batch, then the bad one alone
        assert fake.count("style_edit", 200) == 1


async def test_an_echo_is_confirmed_by_a_worker_whose_earlier_applies_found_no_request_in_flight(
    db_url: str,
) -> None:
    # Applying looks up requests in flight in each apply transaction and skips the echo check
    # when there are none. One connection and policy, as in a long-running worker: a first
    # apply finds nothing in flight; a request then goes out; its echo must still confirm it.
    policy = make_runtime(db_url).policy
    change = load_sample("tracking_onchangetimeline.json")
    milestone_id = change["data"]["after"]["TimeLineItem"]["Id"]
    async with await db.aconnect(db_url, autocommit=True) as conn:
        [first] = await store(db_url, [change])
        assert (await apply_one(conn, first, change, digest_of(change), policy)).status == "applied"
        made = request(db_url, milestone_id, "in-flight-1", {"status": "in_progress"})
        assert made["state"] == "pending"
        # A pending request is not yet sent: an event showing its values does not confirm it.
        early = with_status(change, "In Progress", datetime.now(UTC))
        [early_id] = await store(db_url, [early])
        await apply_one(conn, early_id, early, digest_of(early), policy)
        assert stored_request(db_url, made["id"])["state"] == "pending"
        # The sender claims it (committed before it calls BeProduct's Edit) ...
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute(
                "UPDATE ops.timeline_change_request SET state = 'sending', locked_by = 'sender',"
                " locked_until = now() + interval '1 minute', updated_at = clock_timestamp()"
                " WHERE id = %s",
                (made["id"],),
            )
        # ... and BeProduct's echo of the write is applied by the same worker connection.
        echo = with_status(change, "In Progress", datetime.now(UTC) + timedelta(seconds=1))
        [echo_id] = await store(db_url, [echo])
        await apply_one(conn, echo_id, echo, digest_of(echo), policy)
    done = stored_request(db_url, made["id"])
    assert (done["state"], done["confirmed_by"], done["confirmed_event_id"]) == (
        "confirmed",
        "echo",
        echo_id,
    )


def with_status(body: dict[str, Any], status: str, at: datetime) -> dict[str, Any]:
    """A copy of an OnChange whose milestone now has `status`, sent at `at`."""
    copy: dict[str, Any] = json.loads(json.dumps(body))
    copy["date"] = at.isoformat().replace("+00:00", "Z")
    copy["data"]["after"]["TimeLineItem"]["Status"] = status
    return copy


def digest_of(body: dict[str, Any]) -> bytes:
    return digest(canonical(body))

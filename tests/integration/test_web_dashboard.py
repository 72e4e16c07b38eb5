"""The dashboard over HTTP: sign-in, sessions, CSRF, roles, security headers, Replay, and the
Operations figures, against a real server and database (the browser tests drive the same
pages in Chromium)."""

from __future__ import annotations

import re

import httpx
import psycopg
import pytest

from tests.helpers.live_server import auth, live_server, webhook_url
from tests.helpers.samples import SAMPLE_NAMES, load_sample

# The first request of a page computes its figures: generous on a loaded machine.
TIMEOUT = 60.0
TOKENS = {
    "beproduct_sync_api_tokens": "reader-token-123",
    "beproduct_sync_api_write_tokens": "writer-token-456",
}


def sign_in(client: httpx.Client, token: str) -> httpx.Response:
    return client.post("/login", data={"token": token, "next": "/"})


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def post_samples(base: str) -> list[int]:
    ids = []
    for name in SAMPLE_NAMES:
        reply = httpx.post(webhook_url(base), json=load_sample(name), headers=auth())
        assert reply.status_code == 202
        ids.append(int(reply.json()["id"]))
    return ids


def kill(db_url: str, event_id: int, reason: str = "boom: the apply failed") -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "UPDATE ops.beproduct_sync_log SET status = 'dead', last_error = %s,"
            " processed_at = now(), attempts = 8 WHERE id = %s",
            (reason, event_id),
        )


def status_of(db_url: str, event_id: int) -> str:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT status FROM ops.beproduct_sync_log WHERE id = %s", (event_id,)
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_without_a_session_pages_redirect_to_sign_in_and_fragments_answer_401(
    db_url: str,
) -> None:
    with (
        live_server(db_url, **TOKENS) as base,
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
    ):
        page = client.get("/")
        fragment = client.get("/fragments/operations/panels", headers={"HX-Request": "true"})
        form = client.get("/login")
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/"
    assert fragment.status_code == 401
    assert fragment.headers["hx-redirect"] == "/login"
    assert form.status_code == 200
    assert 'name="token"' in form.text


def test_every_dashboard_answer_carries_the_security_headers(db_url: str) -> None:
    with (
        live_server(db_url, **TOKENS) as base,
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
    ):
        answers = [client.get("/login"), client.get("/"), client.get("/static/dashboard.js")]
    for answer in answers:
        csp = answer.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"


def test_no_page_has_inline_script_or_style(db_url: str) -> None:
    with (
        live_server(db_url, **TOKENS) as base,
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
    ):
        login_page = client.get("/login").text
        sign_in(client, "reader-token-123")
        pages = [login_page, client.get("/").text]
    for html in pages:
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), html
        assert "<style" not in html
        assert " style=" not in html
        tags = re.findall(r"<[a-zA-Z][^>]*>", html)
        assert not [t for t in tags if re.search(r"\son[a-z]+\s*=", t)], html


def test_a_wrong_token_is_refused_and_a_right_one_gives_a_strict_http_only_cookie(
    db_url: str,
) -> None:
    with (
        live_server(db_url, **TOKENS) as base,
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
    ):
        wrong = sign_in(client, "guess")
        right = sign_in(client, "reader-token-123")
        page = client.get("/")
    assert wrong.status_code == 401
    assert "not accepted" in wrong.text
    assert right.status_code == 303
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    assert "reader-token-123" not in cookie
    assert page.status_code == 200
    assert "Operations" in page.text
    assert 'data-testid="role">read only' in page.text


def test_the_webhook_secret_does_not_open_the_dashboard(db_url: str) -> None:
    with (
        live_server(db_url, **TOKENS) as base,
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
    ):
        reply = sign_in(client, auth()["Authorization"].removeprefix("Bearer "))
    assert reply.status_code == 401


def test_the_operations_page_counts_events_by_status_and_lists_dead_letters(
    db_url: str,
) -> None:
    with (
        live_server(db_url, **TOKENS) as base,
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
    ):
        ids = post_samples(base)
        kill(db_url, ids[1], "InjectedFault: injected failure for style MSP26O73")
        sign_in(client, "reader-token-123")
        html = client.get("/fragments/operations/panels").text
        chart = client.get("/fragments/operations/chart").text
    assert 'data-testid="count-pending">2<' in html
    assert 'data-testid="count-dead">1<' in html
    assert 'data-testid="queue-depth">2<' in html
    assert f'data-testid="dead-{ids[1]}"' in html
    assert "InjectedFault: injected failure for style MSP26O73" in html
    assert "read only" in html  # a read session sees no Replay button
    assert f'data-testid="replay-{ids[1]}"' not in html
    assert 'data-testid="events-24h">3 in all<' in chart


def test_a_write_session_replays_a_dead_letter_with_its_csrf_token(db_url: str) -> None:
    with (
        live_server(db_url, **TOKENS) as base,
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
    ):
        ids = post_samples(base)
        kill(db_url, ids[0])
        sign_in(client, "writer-token-456")
        html = client.get("/").text
        assert f'data-testid="replay-{ids[0]}"' in html
        without = client.post("/actions/replay", data={"id": str(ids[0])})
        forged = client.post("/actions/replay", data={"id": str(ids[0]), "csrf": "forged"})
        assert status_of(db_url, ids[0]) == "dead"
        done = client.post(
            "/actions/replay",
            data={"id": str(ids[0]), "csrf": csrf_of(html)},
            headers={"HX-Request": "true"},
        )
        again = client.post(
            "/actions/replay",
            data={"id": str(ids[0]), "csrf": csrf_of(html)},
            headers={"HX-Request": "true"},
        )
    assert (without.status_code, forged.status_code) == (403, 403)
    assert done.status_code == 200
    assert f"Event {ids[0]} is back in the queue." in done.text
    assert status_of(db_url, ids[0]) == "pending"
    assert f"Event {ids[0]} is not a dead letter" in again.text


def test_a_read_session_may_not_replay_even_with_its_csrf_token(db_url: str) -> None:
    with (
        live_server(db_url, **TOKENS) as base,
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
    ):
        ids = post_samples(base)
        kill(db_url, ids[2])
        sign_in(client, "reader-token-123")
        html = client.get("/").text
        reply = client.post("/actions/replay", data={"id": str(ids[2]), "csrf": csrf_of(html)})
    assert reply.status_code == 403
    assert status_of(db_url, ids[2]) == "dead"


def test_replay_only_touches_dead_letters(db_url: str) -> None:
    with (
        live_server(db_url, **TOKENS) as base,
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
    ):
        ids = post_samples(base)
        with psycopg.connect(db_url) as conn:
            conn.execute(
                "UPDATE ops.beproduct_sync_log SET status = 'applied' WHERE id = %s", (ids[0],)
            )
        sign_in(client, "writer-token-456")
        csrf = csrf_of(client.get("/").text)
        reply = client.post(
            "/actions/replay", data={"id": str(ids[0]), "csrf": csrf}, headers={"HX-Request": "1"}
        )
    assert "is not a dead letter" in reply.text
    assert status_of(db_url, ids[0]) == "applied"


def test_sign_out_ends_the_session(db_url: str) -> None:
    with (
        live_server(db_url, **TOKENS) as base,
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
    ):
        sign_in(client, "reader-token-123")
        csrf = csrf_of(client.get("/").text)
        out = client.post("/logout", data={"csrf": csrf})
        after = client.get("/")
    assert out.status_code == 303
    assert after.status_code == 303


def test_a_session_from_another_process_key_is_refused(db_url: str) -> None:
    with (
        live_server(db_url, **TOKENS) as base,
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
    ):
        sign_in(client, "reader-token-123")
        cookies = dict(client.cookies)
    with (
        live_server(db_url, **TOKENS) as base,
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
    ):
        for name, value in cookies.items():
            client.cookies.set(name, value)
        reply = client.get("/")
    assert reply.status_code == 303  # a restart with a random key ends every session


def test_insecure_dev_opens_the_dashboard_with_a_loud_banner(db_url: str) -> None:
    with (
        live_server(db_url, beproduct_sync_insecure_dev=True) as base,
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
    ):
        page = client.get("/")
    assert page.status_code == 200
    assert "INSECURE DEV MODE" in page.text
    assert "set-cookie" in page.headers  # still a session, so its forms carry a CSRF token


@pytest.mark.parametrize("name", ["..%2Fpages.py", "%2E%2E%2Fpages.py", ".hidden", "nope.js"])
def test_only_the_packaged_assets_are_served(db_url: str, name: str) -> None:
    with (
        live_server(db_url, **TOKENS) as base,
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
    ):
        reply = client.get(f"/static/{name}")
    assert reply.status_code == 404


def test_the_vendored_assets_and_their_licences_are_served(db_url: str) -> None:
    with (
        live_server(db_url, **TOKENS) as base,
        httpx.Client(base_url=base, timeout=TIMEOUT) as client,
    ):
        htmx = client.get("/static/htmx-2.0.11.min.js")
        chart = client.get("/static/chart-4.6.1.umd.min.js")
        licences = [client.get(f"/static/{n}") for n in ("htmx-LICENSE.txt", "chartjs-LICENSE.md")]
    assert htmx.status_code == chart.status_code == 200
    assert "javascript" in htmx.headers["content-type"]
    assert "Chart.js v4.6.1" in chart.text
    assert all(r.status_code == 200 and "Permission" in r.text for r in licences)


def test_the_receiver_probes_and_metrics_still_answer_beside_the_dashboard(db_url: str) -> None:
    with live_server(db_url, **TOKENS) as base:
        health = httpx.get(base + "/healthz")
        ready = httpx.get(base + "/readyz")
        metrics = httpx.get(base + "/metrics")
        webhook = httpx.post(webhook_url(base), json=load_sample(SAMPLE_NAMES[0]), headers=auth())
    assert health.json() == {"status": "ok"}
    assert ready.json() == {"status": "ready"}
    assert metrics.status_code == 200
    assert webhook.status_code == 202


def test_the_operations_page_shows_change_requests_and_those_needing_a_person(
    db_url: str,
) -> None:
    rows = [
        ("pending", None),
        ("confirmed", None),
        ("conflict", "changed in BeProduct since the requester read it: status"),
        ("rejected", "BeProduct rejected the edit: HTTP 400: Timeline item x was not found"),
    ]
    with psycopg.connect(db_url) as conn:
        ids = [
            conn.execute(
                "INSERT INTO ops.timeline_change_request (idempotency_key, requested_by,"
                " entity_type, milestone_id, record_id, plan_id, change, base, state,"
                " last_error) VALUES (%s, 'planner@example.com', 'style', gen_random_uuid(),"
                " gen_random_uuid(), gen_random_uuid(), '{\"status\": \"na\"}', '{}', %s, %s)"
                " RETURNING id",
                (f"k-{state}", state, error),
            ).fetchone()
            for state, error in rows
        ]
    with live_server(db_url, **TOKENS) as base, httpx.Client(base_url=base) as client:
        sign_in(client, "reader-token-123")
        html = client.get("/fragments/operations/panels").text
    for state in ("pending", "confirmed", "conflict", "rejected"):
        assert f'data-testid="changes-{state}">1<' in html
    assert 'data-testid="changes-dead">0<' in html
    pending, confirmed, conflict, rejected = (r[0] for r in ids if r is not None)
    assert f'data-testid="change-{conflict}"' in html
    assert f'data-testid="change-{rejected}"' in html
    assert f'data-testid="change-{pending}"' not in html
    assert f'data-testid="change-{confirmed}"' not in html
    assert "Timeline item x was not found" in html

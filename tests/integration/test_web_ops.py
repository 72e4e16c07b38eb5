"""Health, readiness and metrics endpoints."""

from __future__ import annotations

import socket

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.live_server import auth, live_server, webhook_url


def sample_value(text: str, name: str, labels: dict[str, str] | None = None) -> float | None:
    """The value of one sample in a Prometheus exposition, or None when absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and (labels is None or sample.labels == labels):
                return float(sample.value)
    return None


def test_healthz_answers_ok(db_url: str) -> None:
    with live_server(db_url) as base:
        reply = httpx.get(base + "/healthz")
    assert (reply.status_code, reply.json()) == (200, {"status": "ok"})


def test_readyz_is_ready_on_a_migrated_database(db_url: str) -> None:
    with live_server(db_url) as base:
        reply = httpx.get(base + "/readyz")
    assert (reply.status_code, reply.json()) == (200, {"status": "ready"})


def test_readyz_reports_pending_migrations_with_503(empty_db_url: str) -> None:
    with live_server(empty_db_url) as base:
        reply = httpx.get(base + "/readyz")
    assert reply.status_code == 503
    assert reply.json()["error"] == "migrations_pending"
    assert "beproduct-sync migrate" in reply.json()["message"]


def test_readyz_reports_an_unreachable_database_with_503_while_healthz_stays_ok() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"postgresql://postgres@127.0.0.1:{closed.getsockname()[1]}/nothing"
        with live_server(url, beproduct_sync_pool_timeout_seconds=0.3) as base:
            ready = httpx.get(base + "/readyz", timeout=10)
            health = httpx.get(base + "/healthz")
            scrape = httpx.get(base + "/metrics", timeout=10)
    assert (ready.status_code, ready.json()["error"]) == (503, "database_unavailable")
    assert health.status_code == 200
    assert scrape.status_code == 200


def test_metrics_count_receipts_duplicates_refusals_and_the_queue_depth(db_url: str) -> None:
    with live_server(db_url) as base:
        before = httpx.get(base + "/metrics").text
        body = b'{"eventType": "OnDelete", "headerId": "metrics-test"}'
        for _ in range(2):
            httpx.post(webhook_url(base), content=body, headers=auth())
        httpx.post(webhook_url(base), content=b'{"eventType": "OnDelete"}', headers=auth())
        httpx.post(webhook_url(base), content=body, headers=auth("wrong"))
        httpx.post(webhook_url(base), content=b"{", headers=auth())
        scrape = httpx.get(base + "/metrics")
    after = scrape.text
    assert scrape.headers["content-type"].startswith("text/plain")

    def grew(name: str, labels: dict[str, str]) -> float:
        return (sample_value(after, name, labels) or 0) - (sample_value(before, name, labels) or 0)

    ondelete = {"event_type": "OnDelete"}
    assert grew("beproduct_sync_events_received_total", ondelete) == 2
    assert grew("beproduct_sync_events_duplicate_total", ondelete) == 1
    assert grew("beproduct_sync_auth_failures_total", {"reason": "invalid_credentials"}) == 1
    assert grew("beproduct_sync_requests_rejected_total", {"error": "invalid_json"}) == 1
    assert grew("beproduct_sync_ack_seconds_count", {}) == 3
    assert sample_value(after, "beproduct_sync_queue_depth") == 2

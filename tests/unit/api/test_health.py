"""What a client keeps of the API's health: headroom from the rate-limit headers, last error."""

from __future__ import annotations

from datetime import UTC, datetime

from beproduct_sync.api.health import ApiHealth, health_of

NOW = 1_800_000_000.0


def test_an_answer_records_the_headroom_and_when_the_window_resets() -> None:
    health = ApiHealth()
    health.answered(
        200,
        {"x-ratelimit-limit": "100", "x-ratelimit-remaining": "37", "x-ratelimit-reset": "30"},
        NOW,
    )
    assert (health.rate_limit, health.rate_remaining, health.calls) == (100, 37, 1)
    assert health.rate_reset_at == datetime.fromtimestamp(NOW + 30, UTC)
    assert health.last_ok_at == datetime.fromtimestamp(NOW, UTC)


def test_an_answer_without_headers_keeps_the_last_headroom_and_an_error_is_not_ok() -> None:
    health = ApiHealth()
    health.answered(200, {"x-ratelimit-limit": "100", "x-ratelimit-remaining": "9"}, NOW)
    health.answered(503, {}, NOW + 5)
    assert (health.rate_limit, health.rate_remaining, health.calls) == (100, 9, 2)
    assert health.last_ok_at == datetime.fromtimestamp(NOW, UTC)


def test_unreadable_headers_are_ignored() -> None:
    health = ApiHealth()
    health.answered(200, {"x-ratelimit-remaining": "lots", "x-ratelimit-limit": "?"}, NOW)
    assert (health.rate_limit, health.rate_remaining) == (None, None)


def test_a_failure_keeps_the_clients_message_and_its_time() -> None:
    health = ApiHealth()
    health.failed("BeProduct GET folders failed after 7 attempt(s); last: HTTP 503.")
    assert health.last_error is not None and "HTTP 503" in health.last_error
    assert health.last_error_at is not None


def test_only_a_real_health_is_found_on_an_api_object() -> None:
    class Double:
        health = "not one"

    class Client:
        health = ApiHealth()

    assert health_of(Double()) is None
    assert health_of(object()) is None
    assert health_of(Client()) is Client.health

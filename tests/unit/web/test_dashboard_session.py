"""Dashboard sessions: a token exchanged for a signed cookie that names no token."""

from __future__ import annotations

from typing import Any

from beproduct_sync.config import Settings
from beproduct_sync.web.access import Role
from beproduct_sync.web.dashboard.session import Sessions, sessions_from


def _settings(**values: Any) -> Settings:
    defaults: dict[str, Any] = {
        "beproduct_webhook_secret": None,
        "beproduct_sync_api_tokens": "reader-token",
        "beproduct_sync_api_write_tokens": "writer-token",
        "beproduct_sync_insecure_dev": False,
        "beproduct_sync_dashboard_session_key": "k" * 32,
    }
    return Settings(_env_file=None, **{**defaults, **values})


def test_a_read_token_signs_in_read_only_and_a_write_token_may_act() -> None:
    sessions = sessions_from(_settings())
    reader = sessions.sign_in("reader-token")
    writer = sessions.sign_in(" writer-token ")
    assert reader is not None and reader.role is Role.READ and not reader.can_write
    assert writer is not None and writer.role is Role.WRITE and writer.can_write


def test_an_unknown_or_empty_token_does_not_sign_in() -> None:
    sessions = sessions_from(_settings())
    assert sessions.sign_in("nope") is None
    assert sessions.sign_in("") is None


def test_the_cookie_round_trips_and_holds_no_token() -> None:
    sessions = sessions_from(_settings())
    session = sessions.sign_in("writer-token")
    assert session is not None
    cookie = sessions.cookie(session)
    assert "writer-token" not in cookie
    assert sessions.read(cookie) == session


def test_a_tampered_or_foreign_cookie_is_refused() -> None:
    sessions = sessions_from(_settings())
    session = sessions.sign_in("reader-token")
    assert session is not None
    cookie = sessions.cookie(session)
    assert sessions.read(cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1]) is None
    other_key = sessions_from(_settings(beproduct_sync_dashboard_session_key="x" * 32))
    assert other_key.read(cookie) is None
    assert sessions.read(None) is None
    assert sessions.read("garbage") is None


def test_a_session_ends_when_its_token_is_no_longer_configured() -> None:
    before = sessions_from(_settings())
    session = before.sign_in("reader-token")
    assert session is not None
    after = sessions_from(_settings(beproduct_sync_api_tokens="another-token"))
    assert after.read(before.cookie(session)) is None


def test_a_session_older_than_its_lifetime_is_refused() -> None:
    sessions = sessions_from(_settings())
    session = sessions.sign_in("reader-token")
    assert session is not None
    expired = Sessions(sessions.guard, b"k" * 32, -1)
    assert expired.read(sessions.cookie(session)) is None


def test_csrf_tokens_are_per_session_and_must_match() -> None:
    sessions = sessions_from(_settings())
    one, two = sessions.sign_in("writer-token"), sessions.sign_in("writer-token")
    assert one is not None and two is not None
    assert one.csrf != two.csrf
    assert Sessions.csrf_ok(one, one.csrf)
    assert not Sessions.csrf_ok(one, two.csrf)
    assert not Sessions.csrf_ok(one, None)
    assert not Sessions.csrf_ok(one, "")


def test_insecure_dev_hands_out_open_write_sessions_and_ignores_tokens() -> None:
    sessions = sessions_from(
        _settings(
            beproduct_sync_insecure_dev=True,
            beproduct_sync_api_tokens=None,
            beproduct_sync_api_write_tokens=None,
        )
    )
    assert sessions.sign_in("anything") is None
    opened = sessions.open_session()
    assert opened.can_write
    assert sessions.read(sessions.cookie(opened)) == opened

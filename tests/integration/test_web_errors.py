"""Every bad request gets a clear 4xx/5xx with a small JSON body and no internals."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest

from tests.helpers.live_server import SECRETS, auth, live_server, webhook_url

INTERNALS = ("Traceback", "SELECT", "INSERT", "psycopg", "ops.", 'File "', *SECRETS)


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that is bound but not listening, so connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture
def base(db_url: str) -> Iterator[str]:
    with live_server(db_url, beproduct_sync_max_body_bytes=1000) as url:
        yield url


def assert_clean_error(reply: httpx.Response, status: int, code: str) -> None:
    """The reply has the status, the one error shape, the code, and nothing internal."""
    assert reply.status_code == status
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert set(body) == {"error", "message"}
    assert body["error"] == code
    assert body["message"]
    assert len(reply.content) < 300
    for word in INTERNALS:
        assert word not in reply.text


def count_rows(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM ops.beproduct_sync_log").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize(
    ("headers", "content", "status", "code"),
    [
        ({"Content-Type": "application/json"}, b"{}", 401, "missing_credentials"),
        ({**auth("nope"), "Content-Type": "application/json"}, b"{}", 401, "invalid_credentials"),
        ({**auth(), "Authorization": f"Basic {SECRETS[0]}"}, b"{}", 401, "missing_credentials"),
        ({**auth(), "Authorization": "Bearer"}, b"{}", 401, "missing_credentials"),
        ({**auth(), "Authorization": f"Bearer {SECRETS[0]}x"}, b"{}", 401, "invalid_credentials"),
        ({**auth(), "Content-Type": "text/plain"}, b"{}", 415, "unsupported_media_type"),
        ({**auth(), "Content-Type": "application/jsonp"}, b"{}", 415, "unsupported_media_type"),
        ({"Authorization": f"Bearer {SECRETS[0]}"}, b"{}", 415, "unsupported_media_type"),
        (auth(), b"{not json", 400, "invalid_json"),
        (auth(), b"", 400, "invalid_json"),
        (auth(), b"\xff\xfe{}", 400, "invalid_json"),
        (auth(), b'{"a": 1} trailing', 400, "invalid_json"),
        (auth(), b'{"pad": "' + b"x" * 1000 + b'"}', 413, "body_too_large"),
    ],
    ids=[
        "no-auth",
        "wrong-secret",
        "basic-scheme",
        "empty-bearer",
        "secret-prefix",
        "text-plain",
        "jsonp",
        "no-content-type",
        "broken-json",
        "empty",
        "not-utf8",
        "trailing-garbage",
        "too-large",
    ],
)
def test_a_bad_request_is_refused_with_its_code_and_nothing_is_stored(
    base: str, db_url: str, headers: dict[str, str], content: bytes, status: int, code: str
) -> None:
    reply = httpx.post(webhook_url(base), content=content, headers=headers)
    assert_clean_error(reply, status, code)
    assert count_rows(db_url) == 0


def test_authentication_is_checked_before_anything_about_the_body(base: str) -> None:
    headers = {"Authorization": "Bearer wrong", "Content-Type": "text/plain"}
    reply = httpx.post(webhook_url(base), content=b"x" * 5000, headers=headers)
    assert_clean_error(reply, 401, "invalid_credentials")
    assert reply.headers["www-authenticate"] == "Bearer"


def test_a_chunked_body_over_the_cap_is_refused_while_streaming(base: str, db_url: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"pad": "'
        for _ in range(20):
            yield b"y" * 100
        yield b'"}'

    reply = httpx.post(webhook_url(base), content=chunks(), headers=auth())
    assert "content-length" not in reply.request.headers
    assert_clean_error(reply, 413, "body_too_large")
    assert count_rows(db_url) == 0


def test_a_chunked_body_one_byte_over_the_cap_is_refused_and_one_at_the_cap_accepted(
    base: str, db_url: str
) -> None:
    def chunks(size: int) -> Iterator[bytes]:
        body = b'{"pad": "' + b"c" * (size - 11) + b'"}'
        for i in range(0, size, 64):
            yield body[i : i + 64]

    over = httpx.post(webhook_url(base), content=chunks(1001), headers=auth())
    assert_clean_error(over, 413, "body_too_large")
    assert count_rows(db_url) == 0
    assert httpx.post(webhook_url(base), content=chunks(1000), headers=auth()).status_code == 202


def test_a_body_exactly_at_the_cap_is_accepted(base: str) -> None:
    body = b'{"pad": "' + b"z" * (1000 - 11) + b'"}'
    assert len(body) == 1000
    reply = httpx.post(webhook_url(base), content=body, headers=auth())
    assert reply.status_code == 202


def test_the_default_cap_is_one_mebibyte(db_url: str) -> None:
    fits = b'{"pad": "' + b"a" * (1024 * 1024 - 11) + b'"}'
    with live_server(db_url) as base:
        accepted = httpx.post(webhook_url(base), content=fits, headers=auth())
        refused = httpx.post(webhook_url(base), content=fits[:-2] + b'a"}', headers=auth())
    assert accepted.status_code == 202
    assert_clean_error(refused, 413, "body_too_large")


def test_an_unexpected_database_error_is_a_bare_500(base: str, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE ops.beproduct_sync_log RENAME TO sync_log_gone")
    reply = httpx.post(webhook_url(base), json={"eventType": "OnCreate"}, headers=auth())
    assert_clean_error(reply, 500, "internal")
    assert "sync_log" not in reply.text


def test_a_database_that_is_down_answers_503_without_details(db_url: str) -> None:
    with refused_port() as port:
        down = f"postgresql://postgres:hunter2@127.0.0.1:{port}/nothing"
        with live_server(down, beproduct_sync_pool_timeout_seconds=0.5) as base:
            reply = httpx.post(
                webhook_url(base), json={"eventType": "OnCreate"}, headers=auth(), timeout=10
            )
    assert_clean_error(reply, 503, "database_unavailable")
    assert reply.headers["retry-after"] == "5"
    assert "hunter2" not in reply.text
    assert str(port) not in reply.text


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/webhooks/beproduct/tracking", 405, "method_not_allowed"),
        ("POST", "/nowhere", 404, "not_found"),
    ],
)
def test_unknown_routes_and_methods_answer_in_the_same_json_shape(
    base: str, method: str, path: str, status: int, code: str
) -> None:
    assert_clean_error(httpx.request(method, base + path, headers=auth()), status, code)

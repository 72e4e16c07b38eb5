"""Bearer secrets (several, for rotation) and the optional Standard Webhooks signature."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.helpers.live_server import SECRETS, auth, live_server, webhook_url

SIGNING_SECRET = "whsec_" + base64.b64encode(b"a signing key of thirty-two byte").decode()
BODY = b'{"eventType": "OnCreate", "headerId": "h-1"}'


def signed(
    body: bytes = BODY,
    *,
    age: timedelta = timedelta(0),
    key: str = SIGNING_SECRET,
    msg_id: str = "msg_1",
) -> dict[str, str]:
    """Standard Webhooks headers for `body`, stamped `age` ago."""
    at = datetime.now(UTC) - age
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(key).sign(msg_id, at, body.decode()),
    }


@pytest.mark.parametrize("secret", SECRETS, ids=["first", "second", "third"])
def test_each_configured_secret_is_accepted(db_url: str, secret: str) -> None:
    with live_server(db_url) as base:
        reply = httpx.post(webhook_url(base), content=BODY, headers=auth(secret))
    assert reply.status_code == 202


def test_rotating_the_secret_accepts_both_during_the_overlap_and_then_only_the_new_one(
    db_url: str,
) -> None:
    old, new = "old-secret-000000", "new-secret-111111"
    with live_server(db_url, beproduct_webhook_secret=f"{old}, {new}") as base:
        during = [
            httpx.post(webhook_url(base), json={"n": i}, headers=auth(s)).status_code
            for i, s in enumerate((old, new))
        ]
    with live_server(db_url, beproduct_webhook_secret=new) as base:
        after = [
            httpx.post(webhook_url(base), json={"n": 9 + i}, headers=auth(s)).status_code
            for i, s in enumerate((old, new))
        ]
    assert during == [202, 202]
    assert after == [401, 202]


def test_a_valid_signature_with_the_bearer_secret_is_accepted(db_url: str) -> None:
    with live_server(db_url, beproduct_webhook_signing_secret=SIGNING_SECRET) as base:
        reply = httpx.post(webhook_url(base), content=BODY, headers={**auth(), **signed()})
    assert reply.status_code == 202


def test_a_signature_four_minutes_old_is_still_inside_the_tolerance(db_url: str) -> None:
    with live_server(db_url, beproduct_webhook_signing_secret=SIGNING_SECRET) as base:
        headers = {**auth(), **signed(age=timedelta(minutes=4))}
        reply = httpx.post(webhook_url(base), content=BODY, headers=headers)
    assert reply.status_code == 202


OTHER_KEY = "whsec_" + base64.b64encode(b"another key entirely, 32 bytes!").decode()


# Headers are built when the test runs (not at collection) so their timestamps stay fresh.
@pytest.mark.parametrize(
    ("make_headers", "code"),
    [
        (dict, "missing_signature"),
        (lambda: signed(key=OTHER_KEY), "invalid_signature"),
        (lambda: signed(b'{"eventType": "OnDelete", "headerId": "h-1"}'), "invalid_signature"),
        (lambda: {**signed(), "webhook-id": "msg_2"}, "invalid_signature"),
        (lambda: {**signed(), "webhook-signature": "v1,not base64!"}, "invalid_signature"),
        (lambda: {**signed(), "webhook-signature": "garbage"}, "invalid_signature"),
        (lambda: {**signed(), "webhook-timestamp": "yesterday"}, "invalid_signature"),
        (lambda: signed(age=timedelta(minutes=6)), "signature_expired"),
        (lambda: signed(age=-timedelta(minutes=6)), "signature_expired"),
    ],
    ids=[
        "missing",
        "other-key",
        "other-body",
        "other-id",
        "bad-base64",
        "no-version",
        "bad-timestamp",
        "too-old",
        "too-new",
    ],
)
def test_a_bad_or_stale_signature_is_refused_with_401(
    db_url: str, make_headers: Callable[[], dict[str, str]], code: str
) -> None:
    with live_server(db_url, beproduct_webhook_signing_secret=SIGNING_SECRET) as base:
        headers = {**auth(), **make_headers()}
        reply = httpx.post(webhook_url(base), content=BODY, headers=headers)
    assert reply.status_code == 401
    assert reply.json()["error"] == code
    assert SIGNING_SECRET not in reply.text


def test_a_valid_signature_does_not_replace_the_bearer_secret(db_url: str) -> None:
    with live_server(db_url, beproduct_webhook_signing_secret=SIGNING_SECRET) as base:
        headers = {"Content-Type": "application/json", **signed()}
        reply = httpx.post(webhook_url(base), content=BODY, headers=headers)
    assert reply.status_code == 401
    assert reply.json()["error"] == "missing_credentials"


def test_with_only_a_signing_secret_the_signature_alone_authenticates(db_url: str) -> None:
    settings = {
        "beproduct_webhook_secret": None,
        "beproduct_webhook_signing_secret": SIGNING_SECRET,
    }
    with live_server(db_url, **settings) as base:
        headers = {"Content-Type": "application/json"}
        good = httpx.post(webhook_url(base), content=BODY, headers={**headers, **signed()})
        bad = httpx.post(webhook_url(base), content=BODY, headers=headers)
    assert (good.status_code, bad.status_code) == (202, 401)


def test_insecure_dev_mode_accepts_requests_without_any_credentials(db_url: str) -> None:
    settings = {"beproduct_webhook_secret": None, "beproduct_sync_insecure_dev": True}
    with live_server(db_url, **settings) as base:
        reply = httpx.post(
            webhook_url(base), content=BODY, headers={"Content-Type": "application/json"}
        )
    assert reply.status_code == 202

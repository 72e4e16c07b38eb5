"""Log redaction: no password survives in any string of a log line."""

from __future__ import annotations

from typing import Any

import pytest

from beproduct_sync.logs import REDACTED, Throttle, redact, scrub


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "postgresql://app:hunter2@db.example:5432/ops",
            f"postgresql://app:{REDACTED}@db.example:5432/ops",
        ),
        (
            "connecting to postgres://u:p%40ss@h/db failed; retry",
            f"connecting to postgres://u:{REDACTED}@h/db failed; retry",
        ),
        (
            "host=db user=app password=hunter2 dbname=ops",
            f"host=db user=app password={REDACTED} dbname=ops",
        ),
        ("password = 'hun ter2' host=db", f"password = {REDACTED} host=db"),
        ("PASSWORD='it\\'s' x", f"PASSWORD={REDACTED} x"),
        (
            "postgresql://h/db?user=app&password=hunter2&sslmode=require",
            f"postgresql://h/db?user=app&password={REDACTED}&sslmode=require",
        ),
        ("postgresql://app@db/ops", "postgresql://app@db/ops"),
        ("no secrets here: a=b", "no secrets here: a=b"),
    ],
)
def test_scrub_removes_passwords_from_urls_and_connection_strings(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_redact_blanks_secret_keys_and_scrubs_every_string_nested_or_not() -> None:
    event: dict[str, Any] = {
        "event": "error connecting to postgresql://a:hunter2@h/db",
        "exception": "Traceback ...\nOperationalError: password=hunter2 host=x",
        "client_secret": "s3cret",
        "headers": {"Authorization": "Bearer abc", "accept": "json"},
        "tried": ["postgresql://a:hunter2@h1/db", ("password=hunter2",)],
        "count": 3,
    }
    out = redact(None, "info", event)
    assert "hunter2" not in repr(out) and "s3cret" not in repr(out) and "abc" not in repr(out)
    assert out["client_secret"] == REDACTED
    assert out["headers"] == {"Authorization": REDACTED, "accept": "json"}
    assert out["count"] == 3


def test_throttle_lets_one_line_through_per_interval_and_counts_the_rest() -> None:
    now = [0.0]
    throttle = Throttle(60.0, clock=lambda: now[0])
    assert throttle("db down") == 0
    assert [throttle("db down") for _ in range(3)] == [None, None, None]
    assert throttle("other error") == 0  # each text on its own
    now[0] = 61.0
    assert throttle("db down") == 3  # logged again, saying how many were held back
    assert throttle("db down") is None

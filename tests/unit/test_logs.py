"""Log redaction: no password survives in any string of a log line."""

from __future__ import annotations

from typing import Any

import pytest

from beproduct_sync.logs import REDACTED, redact, scrub


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

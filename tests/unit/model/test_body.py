"""Pure parts of the inbox: NUL replacement for jsonb, and which dates Postgres can cast."""

from __future__ import annotations

import pytest

from beproduct_sync.model.body import MAX_DEPTH, TooDeep, canonical, date_readable, decode, sanitise


def test_nul_is_replaced_in_every_string_of_a_body_keys_included() -> None:
    body = {"a\x00b": ["x\x00", {"k": "\x00\x00"}, 1, None, True], "ok": "fine"}
    stored, changed = sanitise(body)
    assert changed
    assert stored == {"a\ufffdb": ["x\ufffd", {"k": "\ufffd\ufffd"}, 1, None, True], "ok": "fine"}
    assert body["a\x00b"] == ["x\x00", {"k": "\x00\x00"}, 1, None, True]  # original untouched


def test_a_body_without_nul_comes_back_unchanged_and_unflagged() -> None:
    body = {"eventType": "OnChange", "data": {"list": ["a", 1, 2.5, None]}, "text": "\ufffd"}
    stored, changed = sanitise(body)
    assert not changed
    assert stored is body


@pytest.mark.parametrize(
    "date",
    [
        "2026-01-08T14:52:26.0443935Z",
        "2026-01-08T14:52:26Z",
        "2026-01-08T14:52:26+15:59",
        "2026-01-08T14:52:26-0500",
        None,
    ],
)
def test_dates_postgres_can_cast_are_readable(date: object) -> None:
    assert date_readable({"date": date})


@pytest.mark.parametrize(
    "date",
    [
        "31/12/2025",
        "",
        "   ",
        "2025-02-30T00:00:00Z",
        "2026-01-08T14:52:26+16:00",
        20260108,
        1.5,
        True,
        {"at": "2026-01-08"},
        ["2026-01-08T14:52:26Z"],
        "2026-01-08T14:52:26Z\ufffd",
    ],
)
def test_dates_postgres_cannot_cast_are_unreadable(date: object) -> None:
    assert not date_readable({"date": date})


def test_bodies_without_a_date_are_readable_since_null_casts_to_null() -> None:
    assert date_readable({"eventType": "OnChange"})
    assert date_readable(None)
    assert date_readable(["not", "an", "object"])
    assert date_readable("a string body")


@pytest.mark.parametrize("depth", [1, 100, MAX_DEPTH])
def test_json_as_deep_as_can_be_written_back_decodes(depth: int) -> None:
    for raw in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        body, altered = decode(raw)
        assert not altered
        assert canonical(body)  # storable: its canonical form is the dedupe key


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 1024])
def test_json_deeper_than_can_be_written_back_is_refused_as_too_deep(depth: int) -> None:
    for raw in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        with pytest.raises(TooDeep, match="deeper than 254 levels"):
            decode(raw)


def test_deep_json_with_a_lone_surrogate_is_refused_as_too_deep() -> None:
    depth = 400
    with pytest.raises(TooDeep):
        decode(b'["\\ud800",' + b"[" * depth + b"]" * depth + b"]")

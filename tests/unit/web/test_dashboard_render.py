"""Dashboard rendering helpers: times and durations for people, the packaged assets only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from beproduct_sync.web.dashboard.render import NONE, ago, asset, seconds, when

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=12), "12 s ago"),
        (timedelta(minutes=5, seconds=59), "5 min ago"),
        (timedelta(hours=3), "3 h ago"),
        (timedelta(days=2, hours=23), "2 d ago"),
        (timedelta(minutes=-4), "in 4 min"),
    ],
)
def test_ago_says_how_long_ago_in_the_largest_whole_unit(delta: timedelta, text: str) -> None:
    assert ago(NOW - delta, NOW) == text


def test_durations_and_times_for_people() -> None:
    assert seconds(0.035) == "35 ms"
    assert seconds(1.44) == "1.4 s"
    assert seconds(600) == "10 min"
    assert when(NOW) == "2026-12-01 12:00:00 UTC"
    assert ago(None) == seconds(None) == when(None) == NONE


@pytest.mark.parametrize("name", ["../pages.py", ".hidden", "a/b.js", "nope.js", "..\\x"])
def test_only_files_of_the_static_folder_are_assets(name: str) -> None:
    assert asset(name) is None


def test_assets_carry_their_media_type() -> None:
    found = asset("dashboard.css")
    assert found is not None
    assert found[1] == "text/css; charset=utf-8"
    js = asset("htmx-2.0.11.min.js")
    assert js is not None and "javascript" in js[1]

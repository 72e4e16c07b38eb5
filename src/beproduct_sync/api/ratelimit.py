"""BeProduct's rate limits as the client sees them: how long a 429 asks to wait, and pacing.

BeProduct limits requests per minute, hour and day. Every answer carries `X-RateLimit-Limit`,
`X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix seconds); a 429 says how long to wait in
its `Retry-After` header or only in its JSON body (`retryAfterSeconds`, `window`, `limit`).
A wait is read from, in this order: `Retry-After`, the body's `retryAfterSeconds`, then
`X-RateLimit-Reset`. Hour and day windows make waits of minutes or hours; callers treat them
as pauses, not failures (see api.client).

`Pacer` keeps the latest header values and spaces requests out before the window runs dry:
each request reserves one of the remaining requests (so concurrent callers do not all spend
the last one), and once no more than `reserve` remain, requests are spread evenly over the
time left; none remaining, they wait for the reset. Other clients share the same limits
(BeProduct counts per account, and `serve`, `worker` and `backfill` each have a client), so
429s still happen and are waited out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

Clock = Callable[[], float]
# X-RateLimit-Reset below this is a number of seconds, not a Unix time (some servers send that).
_RELATIVE_RESET = 1_000_000_000


@dataclass(frozen=True)
class Pause:
    """A wait the client takes because of the rate limits, as reported to listeners."""

    seconds: float
    resume_at: datetime
    reason: str  # "429": BeProduct refused; "pacing": waiting before the window runs dry
    source: str  # where the wait came from: Retry-After, retryAfterSeconds, X-RateLimit-Reset
    window: str | None
    endpoint: str

    def describe(self) -> str:
        """A one-line account for people, e.g. `429 (hour window): paused until 14:03:22 UTC`."""
        what = self.reason + (f" ({self.window} window)" if self.window else "")
        return f"{what}: paused until {self.resume_at:%H:%M:%S} UTC"


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds: a number (fractions accepted) or an HTTP date; None if unusable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


def reset_seconds(value: str | None, now: float) -> float | None:
    """Seconds until `X-RateLimit-Reset` (Unix seconds; a small number is taken as seconds)."""
    try:
        reset = float(value) if value else None
    except ValueError:
        return None
    if reset is None:
        return None
    return max(0.0, reset if reset < _RELATIVE_RESET else reset - now)


@dataclass(frozen=True)
class Throttle:
    """What a 429 asked for: the wait, where it was read, and the window named in the body."""

    seconds: float
    source: str
    window: str | None
    limit: int | None


def throttle(headers: Mapping[str, str], body: Any, now: float) -> Throttle | None:
    """The wait a 429 asks for; None when it says nothing usable (then back off)."""
    info = body if isinstance(body, dict) else {}
    window = info.get("window") if isinstance(info.get("window"), str) else None
    limit = info.get("limit") if isinstance(info.get("limit"), int) else None
    header = retry_after_seconds(headers.get("retry-after"), now)
    if header is not None:
        return Throttle(header, "Retry-After", window, limit)
    seconds = info.get("retryAfterSeconds")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0:
        return Throttle(float(seconds), "retryAfterSeconds", window, limit)
    reset = reset_seconds(headers.get("x-ratelimit-reset"), now)
    if reset is not None:
        return Throttle(reset, "X-RateLimit-Reset", window, limit)
    return None


class Pacer:
    """The rate-limit state of one client, and how long its next request should wait."""

    def __init__(self, reserve: int = 5, clock: Clock = time.time) -> None:
        self.reserve = reserve
        self._clock = clock
        self._remaining: int | None = None
        self._reset_at = 0.0
        self._blocked_until = 0.0

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take in an answer's `X-RateLimit-*` headers."""
        try:
            remaining = int(headers["x-ratelimit-remaining"])
        except (KeyError, ValueError):
            return
        now = self._clock()
        reset = reset_seconds(headers.get("x-ratelimit-reset"), now)
        reset_at = now + (reset or 0.0)
        if self._remaining is None or reset_at > self._reset_at + 0.5 or now >= self._reset_at:
            self._remaining, self._reset_at = remaining, reset_at  # a new window
        else:
            # Answers to concurrent requests arrive in any order: the lowest count is newest.
            self._remaining = min(self._remaining, remaining)

    def block(self, seconds: float) -> None:
        """BeProduct refused: no request goes out for `seconds`."""
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)

    def reserve_one(self) -> tuple[float, str]:
        """Reserve one request; return how long to wait before sending it, and why."""
        now = self._clock()
        if now < self._blocked_until:
            return self._blocked_until - now, "429"
        if self._remaining is None or now >= self._reset_at:
            return 0.0, ""
        left = self._reset_at - now
        if self._remaining <= 0:
            return left, "X-RateLimit-Reset"
        spread = left / (self._remaining + 1) if self._remaining <= self.reserve else 0.0
        self._remaining -= 1
        return spread, "X-RateLimit-Remaining"


def resume_time(seconds: float, clock: Clock = time.time) -> datetime:
    """When a pause of `seconds` starting now ends, in UTC."""
    return datetime.fromtimestamp(clock() + seconds, UTC)

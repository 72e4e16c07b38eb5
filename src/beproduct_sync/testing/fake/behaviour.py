"""What the fake imitates, as switches: every default is BeProduct's documented behaviour, or the
adversarial reading where its documentation leaves room.

Sources: BeProduct's TypeScript SDK (`docs/filters.md`, `docs/errors-and-retries.md`,
`src/schemas/tracking.ts`, `src/http.ts`), its Python SDK, and real webhook bodies. A test that
needs the fake to be kinder turns one switch off (constructor, `fake-beproduct` flag, or
`POST /_admin/behaviour`); nothing is kinder by default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

RETRY_AFTER_HEADER = ("always", "never", "alternate")


@dataclass
class Behaviour:
    """The fake's switches (see the README's table for what each imitates)."""

    # Filter field names are case-sensitive PascalCase; another spelling is an unknown field,
    # and unknown fields are silently ignored (docs/filters.md).
    filter_fields_case_sensitive: bool = True
    # Date filter values must be ISO 8601 with `Z`; anything else is misparsed: its wall-clock
    # digits are read as UTC and its offset dropped (docs/filters.md: "will be misparsed").
    filter_dates_need_z: bool = True
    # The server caps pageSize and silently returns fewer rows than asked (0: no cap).
    max_page_size: int = 100
    # REST spells statuses "Approved with Corrections" and "N/A"; webhooks "Approved with
    # corrections" and "NA".
    rest_status_spellings: bool = True
    # Webhook status labels change case over time ("In progress", "In Progress").
    label_case_drift: bool = True
    # REST `late` is computed when read (due passed, or due after plan); webhooks carry the
    # snapshot taken when the event was sent.
    late_computed_on_read: bool = True
    # Refresh tokens are reusable until revoked (BeProduct's docs); True: each grant rotates
    # the refresh token and retires the one used (what both SDKs are prepared for).
    rotate_refresh_tokens: bool = False
    # `brand` is not in the documented folder schema.
    folder_brand: bool = False
    # Large pages are slow: each timeline row served adds this many seconds (scaled down from
    # the tens of seconds real large pages take; 0 = instant).
    seconds_per_row: float = 0.001
    # A 429 carries `Retry-After` always, never (retry information only in the JSON body), or
    # on every other 429.
    retry_after_header: str = "alternate"
    # Webhooks the fake sends (after an Edit, or a change made "in BeProduct" through
    # `/_admin/milestone`) each wait a random delay up to this many seconds, so bodies of one
    # edit may arrive out of order; this fraction of bodies is delivered twice.
    webhook_delay_seconds: float = 0.5
    webhook_duplicate_fraction: float = 0.1

    def __post_init__(self) -> None:
        if self.retry_after_header not in RETRY_AFTER_HEADER:
            raise ValueError(f"retry_after_header must be one of {', '.join(RETRY_AFTER_HEADER)}")
        if self.max_page_size < 0 or self.seconds_per_row < 0 or self.webhook_delay_seconds < 0:
            raise ValueError(
                "max_page_size, seconds_per_row and webhook_delay_seconds must not be negative"
            )
        if not 0 <= self.webhook_duplicate_fraction <= 1:
            raise ValueError("webhook_duplicate_fraction must be between 0 and 1")

    def to_json(self) -> dict[str, Any]:
        """The switches as JSON."""
        return asdict(self)

    def patched(self, changes: dict[str, Any]) -> Behaviour:
        """A copy with `changes` applied (ValueError for an unknown switch or a bad value)."""
        changes = dict(changes)
        known = {f.name: f for f in fields(self)}
        unknown = set(changes) - set(known)
        if unknown:
            raise ValueError(f"unknown behaviour switch(es): {', '.join(sorted(unknown))}")
        for name, value in changes.items():
            wanted = type(getattr(self, name))
            if wanted is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
                raise ValueError(f"{name} must be {wanted.__name__}")
            changes[name] = value
        return replace(self, **changes)

    def update(self, changes: dict[str, Any]) -> None:
        """Apply `changes` in place (the server reads the switches on every request)."""
        new = self.patched(changes)
        for f in fields(self):
            setattr(self, f.name, getattr(new, f.name))


@dataclass(frozen=True)
class RateLimits:
    """Requests allowed per minute, hour and day (0: no limit in that window).

    `time_scale` shrinks every window for tests and benchmarks (0.05: a "minute" lasts 3 s);
    the windows keep their names in headers and 429 bodies.
    """

    per_minute: int = 1000
    per_hour: int = 30_000
    per_day: int = 300_000
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        if min(self.per_minute, self.per_hour, self.per_day) < 0 or self.time_scale <= 0:
            raise ValueError("limits must not be negative and time_scale must be positive")

    def windows(self) -> list[tuple[str, int, float]]:
        """(name, limit, length in seconds) of each limited window, shortest first."""
        spans = [
            ("minute", self.per_minute, 60.0),
            ("hour", self.per_hour, 3600.0),
            ("day", self.per_day, 86400.0),
        ]
        return [(n, limit, s * self.time_scale) for n, limit, s in spans if limit > 0]

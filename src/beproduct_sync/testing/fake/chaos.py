"""Fault injection, request statistics and the rate-limit window of the fake.

Shared between the server thread and the test thread, so each class guards itself with a lock.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from beproduct_sync.testing.fake.behaviour import RateLimits

# Endpoint names used by faults and stats.
ENDPOINTS = (
    "token",
    "folders",
    "plans",
    "plan",
    "style_timeline",
    "material_timeline",
    "style_edit",
    "material_edit",
    "ratelimit",
)
RETRY_INFO = ("both", "header", "body", "none")


@dataclass
class Fault:
    """What to do to matching requests, for a number of them, a time window, or a fraction.

    `status` answers with that code (a 429 carries its wait, default 1 s, where `retry_info`
    says: the `Retry-After` header, the JSON body's `retryAfterSeconds`, both, or none; other
    codes carry `Retry-After` only when `retry_after` is set); `drop` sends half a body and
    closes the connection; `latency` delays before answering (alone or with either).
    """

    endpoint: str | None = None  # one of ENDPOINTS; None = every API and token request
    status: int | None = None
    drop: bool = False
    latency: float = 0.0
    retry_after: float | None = None
    retry_info: str = "both"
    fraction: float = 1.0
    skip: int = 0  # let this many matching requests through first
    times: int | None = None  # stop after this many matching requests
    seconds: float | None = None  # stop this long after being added
    deadline: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.endpoint is not None and self.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {self.endpoint!r}; use one of {ENDPOINTS}")
        if self.retry_info not in RETRY_INFO:
            raise ValueError(f"retry_info must be one of {', '.join(RETRY_INFO)}")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError("status must be an HTTP error code (400-599)")
        if self.seconds is not None and self.deadline is None:
            self.deadline = time.monotonic() + self.seconds

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Fault:
        """A fault from the admin endpoint's JSON (unknown keys are an error)."""
        known = {f.name for f in fields(cls)} - {"deadline"}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        return cls(**raw)

    def to_json(self) -> dict[str, Any]:
        """The fault as JSON, with the time it has left."""
        out = asdict(self)
        deadline = out.pop("deadline")
        out["seconds_left"] = None if deadline is None else max(0.0, deadline - time.monotonic())
        return out


class Faults:
    """The active faults; the first live one matching a request applies to it."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        """Activate a fault."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        """The faults still live."""
        now = time.monotonic()
        with self._lock:
            self._faults = [f for f in self._faults if _live(f, now)]
            return list(self._faults)

    def pick(self, endpoint: str) -> Fault | None:
        """The fault to apply to one request to `endpoint`, if any (consumes one of `times`)."""
        now = time.monotonic()
        with self._lock:
            for f in self._faults:
                if not _live(f, now) or f.endpoint not in (None, endpoint):
                    continue
                if f.skip > 0:
                    f.skip -= 1
                    continue
                if f.fraction < 1.0 and self._rng.random() >= f.fraction:
                    continue
                if f.times is not None:
                    f.times -= 1
                return f
        return None


def _live(f: Fault, now: float) -> bool:
    return (f.times is None or f.times > 0) and (f.deadline is None or now < f.deadline)


class Stats:
    """Requests per endpoint, answers per status, and the most requests in flight at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget everything counted so far."""
        with self._lock:
            self.requests: Counter[str] = Counter()
            self.rows: Counter[str] = Counter()
            self.statuses: Counter[tuple[str, int]] = Counter()
            self.in_flight = 0
            self.max_in_flight = 0

    def begin(self, endpoint: str) -> None:
        """A request arrived."""
        with self._lock:
            self.requests[endpoint] += 1
            if endpoint != "token":
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def answered(self, endpoint: str, status: int) -> None:
        """A request's answer started (status 0: the connection is being dropped).

        Counted before the client can see the answer, so a test that asserts right after its
        last response never races the server's bookkeeping.
        """
        with self._lock:
            self.statuses[(endpoint, status)] += 1

    def served(self, kind: str, rows: int) -> None:
        """`rows` timeline rows of `kind` (Style, Material) went out in a page."""
        with self._lock:
            self.rows[kind] += rows

    def end(self, endpoint: str) -> None:
        """A request is finished."""
        with self._lock:
            if endpoint != "token":
                self.in_flight -= 1

    def count(self, endpoint: str, status: int | None = None) -> int:
        """Requests to `endpoint` (answered with `status`, when given)."""
        with self._lock:
            if status is None:
                return self.requests[endpoint]
            return self.statuses[(endpoint, status)]

    def to_json(self) -> dict[str, Any]:
        """A snapshot for `GET /_admin/stats`."""
        with self._lock:
            by_status: dict[str, dict[str, int]] = {}
            for (endpoint, status), n in sorted(self.statuses.items()):
                by_status.setdefault(endpoint, {})[str(status)] = n
            return {
                "requests": dict(self.requests),
                "rows_served": dict(self.rows),
                "statuses": by_status,
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
            }


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused: the window that ran out, its limit and when it resets."""

    window: str
    limit: int
    retry_after: float


@dataclass(frozen=True)
class Quota:
    """One window's state, as `X-RateLimit-*` headers and `ratelimit/status` report it."""

    window: str
    limit: int
    used: int
    reset_at: float  # Unix seconds

    @property
    def remaining(self) -> int:
        """Requests left in the window."""
        return max(0, self.limit - self.used)


class RateLimiter:
    """Fixed minute, hour and day windows, each starting when the limiter was (re)set and
    reported with reset times in Unix seconds; a request refused by one window is counted in
    none. Windows counted from the reset rather than the wall clock's hour keep tests clear
    of boundaries: a new limit always starts with whole windows.

    `advance` moves the limiter's clock forward, so a test can let an hour pass at once.
    """

    def __init__(self, limits: RateLimits) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._anchor = time.time()
        self._used: dict[str, tuple[float, int]] = {}  # window → (start, used)
        self.limits = limits
        self.refusals = 0

    def now(self) -> float:
        """The limiter's wall-clock time, Unix seconds."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass for the windows."""
        with self._lock:
            self._offset += seconds

    def reset(self, limits: RateLimits | None = None) -> None:
        """Forget all usage and any time `advance` added (and change the limits, when given)."""
        with self._lock:
            self._used.clear()
            self._offset = 0.0
            self._anchor = time.time()
            if limits is not None:
                self.limits = limits

    def _quotas(self, now: float) -> list[Quota]:
        out = []
        for name, limit, length in self.limits.windows():
            start = now - (now - self._anchor) % length
            began, used = self._used.get(name, (start, 0))
            if began != start:
                used = 0
            self._used[name] = (start, used)
            out.append(Quota(name, limit, used, start + length))
        return out

    def hit(self, count: bool = True) -> tuple[Quota | None, Refusal | None]:
        """Count one request (unless `count` is False): the window to report in headers
        (the one with the fewest requests left) and, when a window has run out, the refusal."""
        with self._lock:
            now = self.now()
            quotas = self._quotas(now)
            full = [q for q in quotas if q.remaining <= 0]
            if full and count:
                worst = max(full, key=lambda q: q.reset_at)
                self.refusals += 1
                return worst, Refusal(worst.window, worst.limit, worst.reset_at - now)
            if count:
                for q in quotas:
                    self._used[q.window] = (self._used[q.window][0], q.used + 1)
                quotas = [Quota(q.window, q.limit, q.used + 1, q.reset_at) for q in quotas]
            shown = min(quotas, key=lambda q: (q.remaining, q.reset_at), default=None)
            return shown, None

    def status(self) -> list[Quota]:
        """Every window's state (for `GET ratelimit/status`)."""
        with self._lock:
            return self._quotas(self.now())

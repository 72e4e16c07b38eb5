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
)


@dataclass
class Fault:
    """What to do to matching requests, for a number of them, a time window, or a fraction.

    `status` answers with that code (a 429 always carries `Retry-After`, default 1 s; other codes
    only when `retry_after` is set); `drop` sends half a body and closes the connection;
    `latency` delays before answering (alone or with either).
    """

    endpoint: str | None = None  # one of ENDPOINTS; None = every API and token request
    status: int | None = None
    drop: bool = False
    latency: float = 0.0
    retry_after: float | None = None
    fraction: float = 1.0
    times: int | None = None  # stop after this many matching requests
    seconds: float | None = None  # stop this long after being added
    deadline: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.endpoint is not None and self.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {self.endpoint!r}; use one of {ENDPOINTS}")
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
                "statuses": by_status,
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
            }


class RateWindow:
    """A fixed one-minute window of `limit` requests, reported in X-RateLimit-* headers."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._used = 0

    def hit(self) -> tuple[int, float]:
        """Count a request; return (remaining, seconds until the window resets)."""
        now = time.monotonic()
        with self._lock:
            if now - self._start >= 60:
                self._start, self._used = now, 0
            self._used += 1
            return self.limit - self._used, 60 - (now - self._start)

"""The raw ASGI layer in front of the fake's routes: counting, rate limits and faults.

It is raw ASGI rather than Starlette middleware because a dropped connection needs control of
the `send` channel: it starts a response, sends half the promised body and returns, and uvicorn
then closes the socket — the client sees a connection reset mid-body, as with the real API.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from typing import Any

import orjson

from beproduct_sync.testing.fake.behaviour import Behaviour
from beproduct_sync.testing.fake.chaos import Fault, Faults, Quota, RateLimiter, Refusal, Stats

Scope = dict[str, Any]
Message = dict[str, Any]
_TRACKING = re.compile(r"^/api/[^/]+/Tracking/(.+)$")
_RULES = (
    (re.compile(r"^Folders$"), "folders"),
    (re.compile(r"^Plans$"), "plans"),
    (re.compile(r"^Plan/[^/]+$"), "plan"),
    (re.compile(r"^Plan/[^/]+/Style/Timeline$"), "style_timeline"),
    (re.compile(r"^Plan/[^/]+/Material/Timeline$"), "material_timeline"),
    (re.compile(r"^Plan/[^/]+/Style/Timelines/Edit$"), "style_edit"),
    (re.compile(r"^Plan/[^/]+/Material/Timelines/Edit$"), "material_edit"),
)
_RATE_STATUS = re.compile(r"^/api/[^/]+/ratelimit/status$")
DROP_NOTICE = "ASGI callable returned without completing response."


def endpoint_of(path: str) -> str | None:
    """The fault/stats name of a request path; None for admin and unknown paths."""
    if path == "/ids/connect/token":
        return "token"
    if _RATE_STATUS.match(path):
        return "ratelimit"
    m = _TRACKING.match(path)
    if m:
        for rule, name in _RULES:
            if rule.match(m.group(1)):
                return name
    return None


class QuietDrops(logging.Filter):
    """Hide uvicorn's error line for connections the fake drops on purpose (fake threads only)."""

    def __init__(self, thread_prefix: str | None) -> None:
        super().__init__()
        self.thread_prefix = thread_prefix

    def filter(self, record: logging.LogRecord) -> bool:
        """False for an intended drop's log line."""
        if record.getMessage() != DROP_NOTICE:
            return True
        return self.thread_prefix is not None and not (record.threadName or "").startswith(
            self.thread_prefix
        )


class Gate:
    """Wraps the app: counts requests, enforces the rate windows (X-RateLimit-* headers on every
    API answer, 429s when a window runs out), applies faults."""

    def __init__(
        self, app: Any, faults: Faults, stats: Stats, limiter: RateLimiter, behaviour: Behaviour
    ) -> None:
        self.app, self.faults, self.stats = app, faults, stats
        self.limiter, self.behaviour = limiter, behaviour
        self._throttled = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """ASGI entry point."""
        endpoint = endpoint_of(scope.get("path", "")) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        self.stats.begin(endpoint)
        # The identity server is another host without rate limits; the status endpoint reports
        # the windows without using them up.
        limited = endpoint not in ("token", "ratelimit")
        quota, refusal = (None, None)
        if endpoint != "token":
            quota, refusal = self.limiter.hit(count=limited)
        limits = _limit_headers(quota)

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.stats.answered(endpoint, message["status"])
                message = {**message, "headers": [*message.get("headers", []), *limits]}
            await send(message)

        try:
            fault = self.faults.pick(endpoint)
            if fault is not None and fault.latency > 0:
                await asyncio.sleep(fault.latency)
            if fault is not None and fault.drop:
                self.stats.answered(endpoint, 0)
                await _drop(send)
            elif fault is not None and fault.status is not None:
                await _refuse(counted, fault.status, *_fault_retry(fault))
            elif refusal is not None:
                await _refuse(counted, 429, *self._throttle(refusal))
            else:
                await self.app(scope, receive, counted)
        finally:
            self.stats.end(endpoint)

    def _throttle(self, r: Refusal) -> tuple[str | None, dict[str, Any]]:
        wait = max(1, math.ceil(r.retry_after))
        mode = self.behaviour.retry_after_header
        self._throttled += 1
        header = mode == "always" or (mode == "alternate" and self._throttled % 2 == 1)
        body = {
            "message": f"Rate limit exceeded for the {r.window} window; retry in {wait} s",
            "retryAfterSeconds": wait,
            "window": r.window,
            "limit": r.limit,
        }
        return (str(wait) if header else None), body


def _limit_headers(quota: Quota | None) -> list[tuple[bytes, bytes]]:
    if quota is None:
        return []
    return [
        (b"x-ratelimit-limit", str(quota.limit).encode()),
        (b"x-ratelimit-remaining", str(quota.remaining).encode()),
        (b"x-ratelimit-reset", str(math.ceil(quota.reset_at)).encode()),
    ]


def _seconds(seconds: float) -> str:
    # Real servers send whole seconds; fractions keep tests fast and our client accepts them.
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _fault_retry(fault: Fault) -> tuple[str | None, dict[str, Any]]:
    seconds = fault.retry_after
    if fault.status != 429:
        return (None if seconds is None else _seconds(seconds)), {}
    seconds = 1.0 if seconds is None else seconds
    header = _seconds(seconds) if fault.retry_info in ("both", "header") else None
    body = {"retryAfterSeconds": seconds} if fault.retry_info in ("both", "body") else {}
    return header, body


async def _refuse(send: Any, status: int, retry_after: str | None, extra: dict[str, Any]) -> None:
    code = {
        429: "too_many_requests",
        502: "bad_gateway",
        503: "service_unavailable",
        504: "gateway_timeout",
    }.get(status, "server_error" if status >= 500 else "error")
    body = orjson.dumps({"error": code, **extra})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", retry_after.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _drop(send: Any) -> None:
    body = b'{"result": [{"id": "'
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": True})
    # Returning now, with 4 KiB promised and a few bytes sent, makes uvicorn close the socket.

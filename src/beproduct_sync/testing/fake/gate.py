"""The raw ASGI layer in front of the fake's routes: counting, rate-limit headers and faults.

It is raw ASGI rather than Starlette middleware because a dropped connection needs control of
the `send` channel: it starts a response, sends half the promised body and returns, and uvicorn
then closes the socket — the client sees a connection reset mid-body, as with the real API.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import orjson

from beproduct_sync.testing.fake.chaos import Fault, Faults, RateWindow, Stats

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
DROP_NOTICE = "ASGI callable returned without completing response."


def endpoint_of(path: str) -> str | None:
    """The fault/stats name of a request path; None for admin and unknown paths."""
    if path == "/ids/connect/token":
        return "token"
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
    """Wraps the app: counts requests, adds X-RateLimit-* headers, applies faults."""

    def __init__(self, app: Any, faults: Faults, stats: Stats, rate: RateWindow) -> None:
        self.app, self.faults, self.stats, self.rate = app, faults, stats, rate

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """ASGI entry point."""
        endpoint = endpoint_of(scope.get("path", "")) if scope["type"] == "http" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        self.stats.begin(endpoint)
        remaining, reset = self.rate.hit()
        limits = [
            (b"x-ratelimit-limit", str(self.rate.limit).encode()),
            (b"x-ratelimit-remaining", str(max(0, remaining)).encode()),
            (b"x-ratelimit-reset", str(int(reset) + 1).encode()),
        ]

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
                await _refuse(counted, fault.status, _retry_after(fault))
            elif remaining < 0:
                await _refuse(counted, 429, f"{int(reset) + 1}")
            else:
                await self.app(scope, receive, counted)
        finally:
            self.stats.end(endpoint)


def _retry_after(fault: Fault) -> str | None:
    seconds = fault.retry_after
    if seconds is None:
        return "1" if fault.status == 429 else None
    # Real servers send whole seconds; fractions keep tests fast and our client accepts them.
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


async def _refuse(send: Any, status: int, retry_after: str | None) -> None:
    code = {
        429: "too_many_requests",
        502: "bad_gateway",
        503: "service_unavailable",
        504: "gateway_timeout",
    }.get(status, "server_error" if status >= 500 else "error")
    body = orjson.dumps({"error": code})
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

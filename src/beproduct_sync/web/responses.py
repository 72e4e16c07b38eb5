"""Small JSON replies, and the handlers that turn every failure into one without internals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import psycopg
import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from beproduct_sync import metrics
from beproduct_sync.errors import DatabaseUnavailable, MissingPrivilege
from beproduct_sync.logs import Throttle
from beproduct_sync.web.auth import Rejected

log = structlog.get_logger("beproduct_sync.web")


def json_reply(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response encoded with orjson."""
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


def error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The one error shape: `{"error": <stable code>, "message": <text for people>}`."""
    return json_reply({"error": code, "message": message}, status, headers)


async def on_rejected(request: Request, exc: Exception) -> Response:
    """A request refused on purpose (auth, size, type, JSON)."""
    assert isinstance(exc, Rejected)
    metrics.REJECTED.labels(exc.code).inc()
    headers = dict(exc.headers)
    if exc.status == 401:
        metrics.AUTH_FAILURES.labels(exc.code).inc()
        headers["WWW-Authenticate"] = "Bearer"
    return error(exc.status, exc.code, exc.message, headers or None)


async def on_http(request: Request, exc: Exception) -> Response:
    """Routing errors (unknown path, wrong method) in the same JSON shape."""
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error(exc.status_code, code, exc.detail, exc.headers)


async def on_database(request: Request, exc: Exception) -> Response:
    """The database is down or out of connections: 503, so the sender retries later."""
    # The exception text can hold host names and SQL; log only its class, never answer with it.
    log.warning("database unavailable", path=request.url.path, error=type(exc).__name__)
    metrics.REJECTED.labels("database_unavailable").inc()
    return error(
        503,
        "database_unavailable",
        "the database is unavailable; retry later",
        {"Retry-After": "5"},
    )


_privilege_lines = Throttle()


async def on_missing_privilege(request: Request, exc: Exception) -> Response:
    """The service's database role may not store the event: 503, so the sender retries once
    an operator has granted it (the log line says what to grant; the answer says nothing)."""
    held = _privilege_lines(str(exc))
    if held is not None:
        log.error("missing_privilege", path=request.url.path, error=str(exc), repeated=held)
    metrics.REJECTED.labels("missing_privileges").inc()
    return error(
        503,
        "missing_privileges",
        "the service may not store events right now; retry later",
        {"Retry-After": "30"},
    )


async def on_unexpected(request: Request, exc: Exception) -> Response:
    """Anything else: 500 with no detail (the server logs the traceback)."""
    metrics.REJECTED.labels("internal").inc()
    return error(500, "internal", "unexpected server error")


HANDLERS: dict[Any, Any] = {
    Rejected: on_rejected,
    HTTPException: on_http,
    psycopg.OperationalError: on_database,
    DatabaseUnavailable: on_database,
    MissingPrivilege: on_missing_privilege,
    Exception: on_unexpected,
}

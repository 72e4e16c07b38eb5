"""The HTTP receiver: verify, store durably, answer. Workers apply the stored events later."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import psycopg
import structlog
from prometheus_client import CONTENT_TYPE_LATEST
from psycopg.rows import scalar_row
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from beproduct_sync import db, metrics
from beproduct_sync.config import Settings
from beproduct_sync.errors import DatabaseUnavailable
from beproduct_sync.inbox.log import Incoming
from beproduct_sync.model.body import TooDeep, canonical, decode, digest
from beproduct_sync.model.webhook import event_type_label
from beproduct_sync.sql import query
from beproduct_sync.web import dashboard, limits, readiness
from beproduct_sync.web.access import access_from
from beproduct_sync.web.api_v1 import API_PREFIX, create_api
from beproduct_sync.web.api_v1.app import bind_pool
from beproduct_sync.web.auth import Guard, Rejected, guard_from
from beproduct_sync.web.connections import Connections
from beproduct_sync.web.dashboard.session import sessions_from
from beproduct_sync.web.intake import Intake
from beproduct_sync.web.responses import HANDLERS, error, json_reply

log = structlog.get_logger("beproduct_sync.web")

WEBHOOK_PATH = "/webhooks/beproduct/tracking"

Pool = AsyncConnectionPool[Any]


@dataclass(frozen=True)
class Receiver:
    """What the handlers share, built once by the lifespan."""

    guard: Guard
    conns: Connections
    max_body: int
    gate: limits.Gate
    body_timeout: float
    intake: Intake
    metrics_dir: str | None = None  # where worker children record their metrics (serve)
    privileges: readiness.Privileges = field(default_factory=readiness.Privileges)


async def tracking(request: Request) -> Response:
    """A webhook, if a slot is free (else 503: see limits.py)."""
    rx: Receiver = request.app.state.receiver
    with rx.gate.admit():
        return await _tracking(request, rx)


async def _tracking(request: Request, rx: Receiver) -> Response:
    """Authenticate, bound and decode a webhook, store it durably, then acknowledge it."""
    started = perf_counter()
    rx.guard.authenticate(request.headers.get("authorization"))
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != "application/json":
        raise Rejected(415, "unsupported_media_type", "send Content-Type: application/json")
    body = await read_capped(request, rx.max_body, rx.body_timeout)
    rx.guard.verify_signature(body, request.headers)
    try:
        event, altered = decode(body)
    except TooDeep as exc:
        raise Rejected(400, "json_too_deep", str(exc)) from None
    except ValueError:
        raise Rejected(400, "invalid_json", "the body is not valid JSON") from None
    # Stored with whatever else arrived meanwhile, committed before this returns (intake.py).
    text = canonical(event)
    received = await rx.intake.store(Incoming(event, text, digest(text), body, altered))
    label = event_type_label(event.get("eventType") if isinstance(event, dict) else None)
    (metrics.DUPLICATES if received.duplicate else metrics.RECEIVED).labels(label).inc()
    metrics.ACK_SECONDS.observe(perf_counter() - started)
    return json_reply(
        {"id": received.id, "duplicate": received.duplicate}, 200 if received.duplicate else 202
    )


async def read_capped(request: Request, cap: int, timeout: float | None = None) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `cap` bytes, and with 408
    when it has not fully arrived within `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout):
            return await _read_capped(request, cap)
    except TimeoutError:
        raise limits.body_timeout(timeout or 0) from None


async def _read_capped(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise Rejected(413, "body_too_large", f"the body exceeds {cap} bytes")
    # Chunked bodies have no length up front, so count while reading and stop at the cap.
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise Rejected(413, "body_too_large", f"the body exceeds {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def healthz(request: Request) -> Response:
    """Liveness: the process answers."""
    return json_reply({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: the database answers, every migration is applied (by either history) and
    the role holds the service's privileges (see readiness.py)."""
    rx: Receiver = request.app.state.receiver

    async def op(conn: psycopg.AsyncConnection[Any]) -> tuple[str, str] | None:
        return await readiness.problem(conn, rx.privileges)

    try:
        found = await rx.conns.run(op)
    except (psycopg.OperationalError, DatabaseUnavailable):
        return error(
            503, "database_unavailable", "the database does not answer", {"Retry-After": "5"}
        )
    if found is not None:
        return error(503, *found)
    return json_reply({"status": "ready"})


async def metrics_text(request: Request) -> Response:
    """Prometheus exposition; the queue depth is refreshed on each scrape."""
    rx: Receiver = request.app.state.receiver

    async def op(conn: psycopg.AsyncConnection[Any]) -> int | None:
        cur = conn.cursor(row_factory=scalar_row)
        depth: int | None = await (await cur.execute(query("queue_depth"))).fetchone()
        return depth

    # A scrape must not fail with the database; the gauge keeps its last value.
    with contextlib.suppress(psycopg.OperationalError, DatabaseUnavailable):
        depth = await rx.conns.run(op)
        metrics.QUEUE_DEPTH.set(depth or 0)
    return Response(metrics.exposition(rx.metrics_dir), media_type=CONTENT_TYPE_LATEST)


def new_pool(settings: Settings, url: str) -> Pool:
    """A closed pool for the receiver; no server-side prepares, so transaction poolers work."""
    size = settings.beproduct_sync_pool_max_size
    return AsyncConnectionPool(
        url,
        min_size=max(1, size // 2),
        max_size=size,
        timeout=settings.beproduct_sync_pool_timeout_seconds,
        connection_class=db.AsyncConnection,
        kwargs=db.pool_kwargs(),
        open=False,
        name="beproduct-sync-web",
    )


def create_app(
    settings: Settings, url: str, *, pool: Pool | None = None, metrics_dir: str | None = None
) -> Starlette:
    """The ASGI app for the database at `url`: the webhook receiver, the operational endpoints,
    the read API under `/api/v1` and the dashboard at `/`; a given `pool` is used as is (and
    left open), else the lifespan owns one. `/metrics` includes what worker children record in
    `metrics_dir`."""
    guard = guard_from(settings)  # ConfigError here: never listen without authentication
    if guard.insecure:
        log.warning(
            "INSECURE DEV MODE: webhooks are accepted WITHOUT authentication;"
            " set BEPRODUCT_WEBHOOK_SECRET before exposing this service"
        )
        log.warning(
            "INSECURE DEV MODE: the dashboard is open to anyone who reaches it, with write"
            " access (replay); set BEPRODUCT_SYNC_API_TOKENS before exposing this service"
        )
    sessions = sessions_from(settings)

    api = create_api(access_from(settings))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        active = pool or new_pool(settings, url)
        if pool is None:
            await active.open(wait=False)  # start even while the database is down; readyz says so
        bind_pool(api, active)  # a mounted app's own lifespan never runs
        conns = Connections(active, url, settings.beproduct_sync_pool_timeout_seconds)
        intake = Intake(conns.run, linger_seconds=settings.beproduct_sync_receive_linger_seconds)
        app.state.receiver = Receiver(
            guard,
            conns,
            settings.beproduct_sync_max_body_bytes,
            limits.Gate(settings.beproduct_sync_max_concurrent_requests),
            settings.beproduct_sync_body_timeout_seconds,
            intake,
            metrics_dir,
        )
        app.state.dashboard = dashboard.Dashboard(
            active,
            sessions,
            settings.beproduct_sync_pool_timeout_seconds,
            settings.beproduct_sync_dashboard_refresh_seconds,
        )
        try:
            yield
        finally:
            await intake.close()
            if pool is None:
                await active.close()

    routes = [
        Route(WEBHOOK_PATH, tracking, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_text, methods=["GET"]),
        Mount(API_PREFIX, app=api),
        *dashboard.routes(),  # `/` and the dashboard's pages, fragments, actions and assets
    ]
    return Starlette(routes=routes, exception_handlers=HANDLERS, lifespan=lifespan)

"""The dashboard's routes: sign-in, the Operations page and its self-refreshing fragments, and
the Replay action. Each handler checks the session, reads through a service module and renders.

Pages answer a browser without a session with a redirect to the sign-in form; fragments (htmx
requests) answer 401 with `HX-Redirect`, so a session that ran out mid-refresh lands on the
form too. Every POST needs the session's CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote

import structlog
from psycopg_pool import AsyncConnectionPool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from beproduct_sync.api import overview
from beproduct_sync.apply.policy import Policy
from beproduct_sync.apply.replay import replay
from beproduct_sync.inbox.requeue import Selection
from beproduct_sync.inbox.status import InboxStatus
from beproduct_sync.web.dashboard import render
from beproduct_sync.web.dashboard.session import COOKIE, Session, Sessions
from beproduct_sync.web.dashboard.snapshot import Snapshot

log = structlog.get_logger("beproduct_sync.dashboard")

MAX_FORM_BYTES = 4096


@dataclass(frozen=True)
class Dashboard:
    """What the dashboard's handlers share, set on `app.state.dashboard` by the lifespan."""

    pool: AsyncConnectionPool[Any]
    sessions: Sessions
    db_timeout: float
    refresh_seconds: float = 5.0
    operations: Snapshot[overview.Operations] = field(init=False)
    chart: Snapshot[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        # Shared by every viewer: computed at most once per refresh interval (see snapshot).
        object.__setattr__(self, "operations", Snapshot(self.refresh_seconds))
        object.__setattr__(self, "chart", Snapshot(self.refresh_seconds * 6))


def _state(request: Request) -> Dashboard:
    state: Dashboard = request.app.state.dashboard
    return state


def _session(request: Request) -> tuple[Session | None, bool]:
    """The request's session; in insecure-dev mode a new open one (True: set its cookie)."""
    sessions = _state(request).sessions
    found = sessions.read(request.cookies.get(COOKIE))
    if found is None and sessions.guard.insecure:
        return sessions.open_session(), True
    return found, False


def _with_cookie(request: Request, response: Response, session: Session) -> Response:
    sessions = _state(request).sessions
    response.set_cookie(
        COOKIE,
        sessions.cookie(session),
        max_age=sessions.max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _context(request: Request, session: Session, **values: Any) -> dict[str, Any]:
    state = _state(request)
    return {
        "session": session,
        "insecure": state.sessions.guard.insecure,
        "refresh_seconds": state.refresh_seconds,
        "path": request.url.path,
        "now": state.operations.taken_at or datetime.now(UTC),
        "notice": None,
        **values,
    }


def _unauthenticated(request: Request) -> Response:
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    target = quote(request.url.path, safe="/")
    return RedirectResponse(f"/login?next={target}", 303, headers=render.SECURITY_HEADERS)


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form (first value of each field); larger bodies are cut off."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def _local_path(value: str | None) -> str:
    """Where to go after signing in: a path of this site only."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


async def login_form(request: Request) -> Response:
    """The sign-in form (or straight through when already signed in)."""
    session, _ = _session(request)
    target = _local_path(request.query_params.get("next"))
    if session is not None:
        return RedirectResponse(target, 303, headers=render.SECURITY_HEADERS)
    return render.page("login.html", {"next": target, "error": None, "insecure": False})


async def login(request: Request) -> Response:
    """Exchange an API token for a session cookie."""
    form = await _form(request)
    target = _local_path(form.get("next"))
    session = _state(request).sessions.sign_in(form.get("token", ""))
    if session is None:
        log.warning("dashboard_sign_in_refused")
        context = {"next": target, "error": "That token is not accepted.", "insecure": False}
        return render.page("login.html", context, 401)
    log.info("dashboard_signed_in", role=session.role.name.lower())
    redirect = RedirectResponse(target, 303, headers=render.SECURITY_HEADERS)
    return _with_cookie(request, redirect, session)


async def logout(request: Request) -> Response:
    """End the session (CSRF-checked, so no other site can sign anyone out)."""
    session, _ = _session(request)
    form = await _form(request)
    if session is not None and not Sessions.csrf_ok(session, form.get("csrf")):
        return render.page("error.html", {"message": "The form has expired; reload."}, 403)
    response = RedirectResponse("/login", 303, headers=render.SECURITY_HEADERS)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def _operations(request: Request, *, fresh: bool = False) -> overview.Operations:
    state = _state(request)

    async def compute() -> overview.Operations:
        async with state.pool.connection(timeout=state.db_timeout) as conn:
            return await overview.operations(conn)

    return await state.operations.get(compute, fresh=fresh)


async def operations_page(request: Request) -> Response:
    """`/`: the Operations page."""
    session, fresh = _session(request)
    if session is None:
        return _unauthenticated(request)
    ops = await _operations(request)
    chart = await _chart(request)
    response = render.page(
        "operations.html", _context(request, session, ops=ops, chart=chart, page="operations")
    )
    return _with_cookie(request, response, session) if fresh else response


async def operations_panels(request: Request) -> Response:
    """The Operations page's panels, for htmx to swap in."""
    session, _ = _session(request)
    if session is None:
        return _unauthenticated(request)
    ops = await _operations(request)
    return render.page("_operations_panels.html", _context(request, session, ops=ops))


async def _chart(request: Request) -> dict[str, Any]:
    state = _state(request)

    async def compute() -> dict[str, Any]:
        async with state.pool.connection(timeout=state.db_timeout) as conn:
            minutes = await overview.per_minute(conn)
        return {
            "labels": [f"{m.astimezone(UTC):%H:%M}" for m, _ in minutes],
            "values": [n for _, n in minutes],
            "total": sum(n for _, n in minutes),
        }

    return await state.chart.get(compute)


async def operations_chart(request: Request) -> Response:
    """The events-per-minute chart, refreshed less often than the panels."""
    session, _ = _session(request)
    if session is None:
        return _unauthenticated(request)
    chart = await _chart(request)
    return render.page("_operations_chart.html", _context(request, session, chart=chart))


async def replay_dead_letter(request: Request) -> Response:
    """Send one dead letter back to the queue (write sessions only; CSRF-checked)."""
    session, _ = _session(request)
    if session is None:
        return _unauthenticated(request)
    form = await _form(request)
    if not Sessions.csrf_ok(session, form.get("csrf")):
        return render.page("error.html", {"message": "The form has expired; reload."}, 403)
    if not session.can_write:
        return render.page("error.html", {"message": "Replay needs a write token."}, 403)
    try:
        event_id = int(form.get("id", ""))
    except ValueError:
        return render.page("error.html", {"message": "No such dead letter."}, 400)
    state = _state(request)
    selection = Selection(ids=(event_id,), statuses=(InboxStatus.DEAD.value,))
    async with state.pool.connection(timeout=state.db_timeout) as conn:
        # The workers apply it (with their own policy); nothing here applies, so a bare policy.
        report = await replay(conn, selection, Policy(zone=UTC))
    done = bool(report.reset)
    log.info("dashboard_replay", id=event_id, requeued=done)
    notice = (
        f"Event {event_id} is back in the queue."
        if done
        else f"Event {event_id} is not a dead letter (any more)."
    )
    if not request.headers.get("hx-request"):
        return RedirectResponse("/", 303, headers=render.SECURITY_HEADERS)
    ops = await _operations(request, fresh=True)
    context = _context(request, session, ops=ops, notice=notice)
    return render.page("_operations_panels.html", context)


async def static(request: Request) -> Response:
    """A vendored or own asset of the dashboard (public: the sign-in page needs the CSS)."""
    found = render.static(request.path_params["name"])
    if found is None:
        return render.page("error.html", {"message": "Not found."}, 404)
    return found


def routes() -> list[BaseRoute]:
    """The dashboard's routes, mounted at the root of the receiver's app."""
    return [
        Route("/", operations_page, methods=["GET"]),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/fragments/operations/panels", operations_panels, methods=["GET"]),
        Route("/fragments/operations/chart", operations_chart, methods=["GET"]),
        Route("/actions/replay", replay_dead_letter, methods=["POST"]),
        Route("/static/{name}", static, methods=["GET"]),
    ]

"""The fake BeProduct as a Starlette app: token endpoint, Tracking API and `/_admin` controls."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from beproduct_sync.testing.fake import rest, webhooks
from beproduct_sync.testing.fake.behaviour import Behaviour
from beproduct_sync.testing.fake.chaos import Fault, Faults, RateLimiter, Stats
from beproduct_sync.testing.fake.delivery import WebhookSender
from beproduct_sync.testing.fake.filters import FilterError, matches, page
from beproduct_sync.testing.fake.gate import Gate
from beproduct_sync.testing.fake.model import now_ticks
from beproduct_sync.testing.fake.tokens import Tokens
from beproduct_sync.testing.fake.world import World

TOKEN_PATH = "/ids/connect/token"  # noqa: S105 - a URL path, not a secret


@dataclass
class Backend:
    """Everything the app serves from and counts into."""

    company: str
    world: World
    tokens: Tokens
    faults: Faults
    stats: Stats
    limiter: RateLimiter
    sender: WebhookSender
    # Called once, in order, right after the next timeline page of a kind is served: a test's
    # way to change the data while a client is paging.
    after_page: dict[str, list[Callable[[], None]]] = field(default_factory=dict)

    @property
    def behaviour(self) -> Behaviour:
        """The switches (shared with the world, which renders webhooks with them)."""
        return self.world.behaviour

    def matches(self, filters: Any, fields: Any) -> bool:
        """Filters evaluated as the behaviour says."""
        b = self.behaviour
        return matches(
            filters,
            fields,
            case_sensitive=b.filter_fields_case_sensitive,
            need_z=b.filter_dates_need_z,
        )


class JSON(Response):
    """orjson-rendered JSON (the fake serves large pages to benchmarks)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode the content."""
        return orjson.dumps(content)


def error(status: int, code: str, message: str | None = None) -> JSON:
    """A small JSON error body with a stable `error` code."""
    return JSON({"error": code, **({"message": message} if message else {})}, status)


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _int(request: Request, name: str, default: int, low: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    number = int(value)  # ValueError → 400 in _guard
    if number < low:
        raise ValueError(f"{name} must be at least {low}")
    return number


def build_app(b: Backend) -> Gate:
    """The ASGI app: routes wrapped in the gate that counts, limits and injects faults."""

    def api(handler: Any) -> Any:
        async def guarded(request: Request) -> Response:
            if request.path_params.get("company") != b.company or request.path_params.get(
                "kind", "Style"
            ) not in ("Style", "Material"):
                return error(404, "not_found", "no such company or endpoint")
            if not b.tokens.valid(request.headers.get("authorization")):
                return JSON(
                    {"error": "invalid_token"},
                    401,
                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            try:
                return await handler(request)  # type: ignore[no-any-return]
            except FilterError as exc:
                return error(400, "invalid_filter", str(exc))
            except KeyError:
                return error(404, "not_found")
            except (ValueError, TypeError) as exc:
                return error(400, "bad_request", str(exc))

        return guarded

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        status, body = b.tokens.grant(form)
        return JSON(body, status, headers={"Cache-Control": "no-store"})

    async def folders(request: Request) -> Response:
        with b.world.lock:
            return JSON([rest.folder(f, b.behaviour) for f in b.world.folders.values()])

    async def plans(request: Request) -> Response:
        folder_id = request.query_params.get("folderId") or None
        size, number = _int(request, "pageSize", 30, 1), _int(request, "pageNumber", 0, 0)
        filters = ((await _body(request)) or {}).get("filters")
        with b.world.lock:
            found = [
                rest.plan_summary(p)
                for p in b.world.plans.values()
                if folder_id in (None, "None", p.folder_id)
                and b.matches(filters, rest.plan_fields(p))
            ]
        return JSON(page(found, size, number, b.behaviour.max_page_size))

    async def plan(request: Request) -> Response:
        with b.world.lock:
            return JSON(rest.plan(b.world.plan(request.path_params["plan_id"])))

    async def timeline(request: Request) -> Response:
        kind = request.path_params["kind"]
        size, number = _int(request, "pageSize", 20, 1), _int(request, "pageNumber", 0, 0)
        filters = ((await _body(request)) or {}).get("filters")
        with b.world.lock:
            rows = b.world.plan(request.path_params["plan_id"]).rows(kind).values()
            found = [r for r in rows if b.matches(filters, rest.row_fields(r))]
            chunk = page(found, size, number, b.behaviour.max_page_size)
            now = now_ticks()
            body = {
                "result": [rest.row(r, b.behaviour, now) for r in chunk["result"]],
                "total": chunk["total"],
            }
            hooks = b.after_page.get(kind) or []
            if hooks:
                hooks.pop(0)()
        b.stats.served(kind, len(body["result"]))
        # Large pages are slow at BeProduct; the switch scales it down (or off).
        await asyncio.sleep(b.behaviour.seconds_per_row * len(body["result"]))
        return JSON(body)

    async def edit(request: Request) -> Response:
        edits = await _body(request)
        if not isinstance(edits, list):
            return error(400, "bad_request", "body must be a list of {id, timelines}")
        by = b.world.users[0]
        with b.world.lock:
            rows, changes = b.world.edit_timelines(
                request.path_params["plan_id"], request.path_params["kind"], edits, by
            )
            answer = JSON([rest.row(r, b.behaviour, now_ticks()) for r in rows])
            bodies = [webhooks.on_change(b.world, c) for c in changes]
        # BeProduct announces each changed milestone with an OnChange, a little later.
        b.sender.send(bodies)
        return answer

    async def ratelimit(request: Request) -> Response:
        return JSON({f"per_{q.window}": _quota(q) for q in b.limiter.status()})

    routes = [
        Route(TOKEN_PATH, token, methods=["POST"]),
        Route("/api/{company}/Tracking/Folders", api(folders), methods=["GET"]),
        Route("/api/{company}/Tracking/Plans", api(plans), methods=["POST"]),
        Route("/api/{company}/Tracking/Plan/{plan_id}", api(plan), methods=["POST"]),
        Route(
            "/api/{company}/Tracking/Plan/{plan_id}/{kind}/Timeline",
            api(timeline),
            methods=["POST"],
        ),
        Route(
            "/api/{company}/Tracking/Plan/{plan_id}/{kind}/Timelines/Edit",
            api(edit),
            methods=["POST"],
        ),
        Route("/api/{company}/ratelimit/status", api(ratelimit), methods=["GET"]),
        *admin_routes(b),
    ]
    return Gate(Starlette(routes=routes), b.faults, b.stats, b.limiter, b.behaviour)


def _quota(q: Any) -> dict[str, Any]:
    reset = datetime.fromtimestamp(q.reset_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"limit": q.limit, "remaining": q.remaining, "used": q.used, "resetAt": reset}


def admin_routes(b: Backend) -> list[Route]:
    """`/_admin/*`: faults, stats and token expiry for tests, demos and benchmarks."""

    async def stats(request: Request) -> Response:
        return JSON({**b.stats.to_json(), "token_grants": b.tokens.grants})

    async def reset_stats(request: Request) -> Response:
        b.stats.reset()
        return JSON({"ok": True})

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            b.faults.clear()
        elif request.method == "POST":
            body = await _body(request)
            if not isinstance(body, dict):
                return error(400, "bad_request", "body must be a fault or {faults: [...]}")
            if body.pop("replace", False):
                b.faults.clear()
            try:
                for raw in body.get("faults", [body] if body else []):
                    b.faults.add(Fault.from_json(raw))
            except (TypeError, ValueError) as exc:
                return error(400, "bad_fault", str(exc))
        return JSON({"faults": [f.to_json() for f in b.faults.active()]})

    async def expire(request: Request) -> Response:
        b.tokens.expire_access_tokens()
        return JSON({"ok": True})

    async def revoke(request: Request) -> Response:
        body = await _body(request)
        token = body.get("refresh_token") if isinstance(body, dict) else None
        b.tokens.revoke(str(token) if token else None)
        return JSON({"ok": True})

    async def behaviour(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            if not isinstance(body, dict):
                return error(400, "bad_request", "body must be an object of switches")
            try:
                b.behaviour.update(body)
            except ValueError as exc:
                return error(400, "bad_behaviour", str(exc))
        return JSON(b.behaviour.to_json())

    async def ratelimits(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            if not isinstance(body, dict):
                return error(400, "bad_request", "body must be an object")
            advance = body.pop("advance_seconds", None)
            reset = body.pop("reset", False)
            try:
                limits = replace(b.limiter.limits, **body) if body else None
                if advance is not None:
                    b.limiter.advance(float(advance))
            except (TypeError, ValueError) as exc:
                return error(400, "bad_limits", str(exc))
            if limits is not None or reset:
                b.limiter.reset(limits)
        limits = b.limiter.limits
        return JSON(
            {
                "limits": asdict(limits),
                "refusals": b.limiter.refusals,
                "windows": {q.window: _quota(q) for q in b.limiter.status()},
            }
        )

    async def milestone(request: Request) -> Response:
        # A change made "in BeProduct" by someone else (its UI): a test provokes conflicts
        # with it. Announced by webhook unless `notify` is false.
        body = await _body(request)
        if not isinstance(body, dict) or "row_id" not in body:
            return error(400, "bad_request", "body must be {row_id, milestone_id?, status?, ...}")
        notify = bool(body.pop("notify", True))
        row_id, milestone_id = str(body.pop("row_id")), body.pop("milestone_id", None)
        try:
            change = b.world.change_milestone(row_id, milestone_id, **body)
        except KeyError:
            return error(404, "not_found", "no such row or milestone")
        except (TypeError, ValueError) as exc:
            return error(400, "bad_request", str(exc))
        hook = webhooks.on_change(b.world, change)
        if notify:
            b.sender.send([hook])
        return JSON({"webhook": hook, "notified": notify})

    async def deliveries(request: Request) -> Response:
        if request.method == "POST":
            body = await _body(request)
            if not isinstance(body, dict):
                return error(400, "bad_request", "body must be {url, secret}")
            b.sender.target(body.get("url"), body.get("secret"))
        return JSON(
            {"url": b.sender.url, **b.sender.stats.to_json(), "pending": b.sender.pending()}
        )

    return [
        Route("/_admin/milestone", milestone, methods=["POST"]),
        Route("/_admin/webhooks", deliveries, methods=["GET", "POST"]),
        Route("/_admin/stats", stats, methods=["GET"]),
        Route("/_admin/stats/reset", reset_stats, methods=["POST"]),
        Route("/_admin/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/_admin/tokens/expire", expire, methods=["POST"]),
        Route("/_admin/tokens/revoke", revoke, methods=["POST"]),
        Route("/_admin/behaviour", behaviour, methods=["GET", "POST"]),
        Route("/_admin/ratelimit", ratelimits, methods=["GET", "POST"]),
    ]

"""The one BeProduct API adapter: async httpx, OAuth2 refresh tokens, retries, a concurrency cap.

The official SDK's endpoints, page sizes and paging are kept; its transport is not (it blocks the
event loop to refresh tokens, opens a session per request and does not retry dropped connections).
Tokens and secrets never reach logs or exception messages; response bodies never reach messages.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from beproduct_sync.api.ratelimit import (
    Clock,
    Pacer,
    Pause,
    Throttle,
    resume_time,
    retry_after_seconds,
    throttle,
)
from beproduct_sync.config import Settings
from beproduct_sync.errors import (
    BeProductAuthError,
    BeProductError,
    BeProductNotConfigured,
    BeProductNotFound,
    BeProductRejected,
    BeProductThrottled,
    BeProductUnavailable,
)
from beproduct_sync.metrics import API_CALLS

log = structlog.get_logger(__name__)

RefreshHook = Callable[[str], Awaitable[None] | None]
PauseHook = Callable[[Pause], None]
Sleep = Callable[[float], Awaitable[None]]
# Given the refresh token BeProduct just refused, a newer one (another process rotated it) or None.
InvalidGrantHook = Callable[[str], Awaitable[str | None]]
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_TOKEN_SWAPS = 8  # refresh tokens taken from `on_invalid_grant` in one refresh, at most
_ERROR_CODE = re.compile(r"^[A-Za-z_][\w.-]{0,39}$")


class _Transient(Exception):
    """A failure worth retrying: 502/503/504, a 429 that says nothing of when, a timeout or a
    broken connection."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


class _Throttled(Exception):
    """A 429 that said how long to wait: a pause, outside the retry budget."""

    def __init__(self, wait: Throttle) -> None:
        super().__init__(wait.source)
        self.wait = wait


@dataclass(frozen=True)
class Page:
    """One page of a paged endpoint; page numbers start at 0.

    `size` is the page size the walk asks with (the server's, once it served fewer rows than
    asked); `received` counts the walk's items up to and including this page.
    """

    number: int
    size: int
    items: list[dict[str, Any]]
    total: int
    received: int

    @property
    def last(self) -> bool:
        """No page follows: the walk has its `total` items, or this page came back empty."""
        return not self.items or self.received >= self.total


@dataclass(frozen=True)
class Listing:
    """Every item of a paged endpoint, and whether one walk saw them all.

    `complete`: a walk received `total` items while `total` held still. Rows added or removed
    while paging shift the rows behind them between pages, so a changing total can mean a row
    was skipped; the walk is then repeated (see BeProductClient.listing).
    """

    items: list[dict[str, Any]]
    complete: bool
    walks: int


class BeProductClient:
    """Async BeProduct Tracking API client; use as `async with BeProductClient(settings) as c:`."""

    def __init__(
        self,
        settings: Settings,
        *,
        on_refresh_token: RefreshHook | None = None,
        on_invalid_grant: InvalidGrantHook | None = None,
        retry_after_cap: float = 120.0,
        page_size: int = 20,
        plan_page_size: int = 30,
        transport: httpx.AsyncBaseTransport | None = None,
        max_pause: float | None = None,
        on_pause: PauseHook | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.time,
    ) -> None:
        """`max_pause`: the longest a request waits out rate limits before failing with
        BeProductThrottled (default BEPRODUCT_API_MAX_PAUSE_SECONDS); `on_pause` hears of every
        pause; `sleep` and `clock` are how the client waits and tells the time (tests move
        both forward together)."""
        if not settings.api_configured:
            raise BeProductNotConfigured()
        secret, refresh = settings.beproduct_client_secret, settings.beproduct_refresh_token
        assert secret is not None  # api_configured checked both
        assert refresh is not None
        self._api = f"{settings.beproduct_api_url.rstrip('/')}/api/{settings.beproduct_company}/"
        self._token_url = settings.beproduct_token_url
        self._client_id = settings.beproduct_client_id or ""
        self._client_secret = secret.get_secret_value()
        self._refresh_token = refresh.get_secret_value()
        self._on_refresh_token = on_refresh_token
        self._on_invalid_grant = on_invalid_grant
        self._access: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        self._sem = asyncio.Semaphore(settings.beproduct_api_max_concurrency)
        self._attempts = settings.beproduct_api_max_retries + 1
        base = settings.beproduct_api_backoff_base_seconds
        self._backoff = wait_exponential_jitter(
            multiplier=base, max=settings.beproduct_api_backoff_max_seconds, jitter=base
        )
        self._retry_after_cap = retry_after_cap
        self._max_pause = (
            settings.beproduct_api_max_pause_seconds if max_pause is None else max_pause
        )
        self._sleep, self._clock = sleep, clock
        self.on_pause = on_pause
        self.pacer = Pacer(settings.beproduct_api_rate_reserve, clock)
        self.pauses: deque[Pause] = deque(maxlen=1000)
        self.page_size, self.plan_page_size = page_size, plan_page_size
        limit = settings.beproduct_api_max_concurrency
        # Some views and large pages take minutes (BeProduct's own SDK waits 5): the request
        # timeout is long, while a server that does not even accept the connection is
        # noticed after the (short) connect timeout.
        timeout = httpx.Timeout(
            settings.beproduct_api_timeout_seconds,
            connect=settings.beproduct_api_connect_timeout_seconds,
        )
        self._http = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(max_connections=limit + 1, max_keepalive_connections=limit + 1),
            headers={"Accept": "application/json", "User-Agent": "beproduct-sync"},
        )

    async def __aenter__(self) -> BeProductClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the shared HTTP connections."""
        await self._http.aclose()

    @property
    def refresh_token(self) -> str:
        """The latest refresh token (BeProduct rotates it; persist it to survive restarts)."""
        return self._refresh_token

    # -- Tracking endpoints ------------------------------------------------------------------
    async def folders(self) -> list[dict[str, Any]]:
        """All tracking folders."""
        result = await self.request("GET", "Tracking/Folders", "Tracking/Folders")
        return list(result or [])

    def plans(
        self, folder_id: str | None = None, filters: list[dict[str, Any]] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Plans (of one folder, when given), page by page."""
        return self.items(**self._plans_request(folder_id, filters))

    async def plan_listing(self, folder_id: str | None = None) -> Listing:
        """Every plan (of one folder, when given), from a walk that saw them all if possible."""
        return await self.listing(**self._plans_request(folder_id, None))

    def _plans_request(
        self, folder_id: str | None, filters: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        return {
            "path": "Tracking/Plans",
            "endpoint": "Tracking/Plans",
            "page_size": self.plan_page_size,
            "body": {"filters": filters or [], "colorwayFilters": []},
            "params": {"folderId": folder_id} if folder_id else {},
        }

    async def plan(self, plan_id: str) -> dict[str, Any]:
        """One plan with its style/material views and milestone definitions."""
        result: dict[str, Any] = await self.request(
            "POST", f"Tracking/Plan/{plan_id}", "Tracking/Plan/{id}", json={}
        )
        return result

    def style_timelines(
        self, plan_id: str, filters: list[dict[str, Any]] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The plan's style rows with their milestones, page by page."""
        return self._timelines(plan_id, "Style", filters)

    def material_timelines(
        self, plan_id: str, filters: list[dict[str, Any]] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The plan's material rows with their milestones, page by page."""
        return self._timelines(plan_id, "Material", filters)

    async def edit_style_timelines(self, plan_id: str, edits: list[dict[str, Any]]) -> Any:
        """Update style milestones: `[{id, timelines: [{id, status: {value}, …}]}]`."""
        return await self.request(
            "POST",
            f"Tracking/Plan/{plan_id}/Style/Timelines/Edit",
            "Tracking/Plan/{id}/Style/Timelines/Edit",
            json=edits,
        )

    async def edit_material_timelines(self, plan_id: str, edits: list[dict[str, Any]]) -> Any:
        """Update material milestones (same body as for styles)."""
        return await self.request(
            "POST",
            f"Tracking/Plan/{plan_id}/Material/Timelines/Edit",
            "Tracking/Plan/{id}/Material/Timelines/Edit",
            json=edits,
        )

    async def timeline_listing(self, plan_id: str, kind: str) -> Listing:
        """Every style (`kind` "Style") or material row of a plan, from one consistent walk
        if the plan holds still (see `listing`)."""
        return await self.listing(**self.timeline_request(plan_id, kind, None))

    def timeline_request(
        self, plan_id: str, kind: str, filters: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        """The `pages` arguments of a plan's Style or Material timeline."""
        return {
            "path": f"Tracking/Plan/{plan_id}/{kind}/Timeline",
            "endpoint": f"Tracking/Plan/{{id}}/{kind}/Timeline",
            "page_size": self.page_size,
            "body": {"filters": filters or []},
        }

    def _timelines(
        self, plan_id: str, kind: str, filters: list[dict[str, Any]] | None
    ) -> AsyncIterator[dict[str, Any]]:
        return self.items(**self.timeline_request(plan_id, kind, filters))

    # -- paging ------------------------------------------------------------------------------
    async def pages(
        self,
        path: str,
        endpoint: str,
        *,
        page_size: int,
        body: Any,
        params: dict[str, Any] | None = None,
        start: int = 0,
    ) -> AsyncIterator[Page]:
        """The pages of a paged POST endpoint from page `start` (0: the beginning).

        Paging counts items, never pages: the walk ends when the items received reach `total`
        or a page comes back empty. BeProduct caps `pageSize` silently, so when the first page
        brings fewer items than asked while more remain, the walk goes on asking for the size
        the server used; the next page then starts right after the first one whether the
        server counts pages in the size asked or the size served. A walk resumed at `start`
        must ask with the size its earlier pages used (Page.size).
        """
        number, size = start, page_size
        received = start * page_size
        while True:
            query = {**(params or {}), "pageSize": size, "pageNumber": number}
            raw = await self.request("POST", path, endpoint, params=query, json=body)
            found = raw.get("result") if isinstance(raw, dict) else None
            items = [i for i in found if isinstance(i, dict)] if isinstance(found, list) else []
            total = _count(raw.get("total") if isinstance(raw, dict) else None)
            received += len(items)
            page = Page(number, size, items, total, received)
            yield page
            if page.last:
                return
            if number == 0 and len(items) < size:
                size = len(items)
            number += 1

    async def listing(
        self,
        path: str,
        endpoint: str,
        *,
        page_size: int,
        body: Any,
        params: dict[str, Any] | None = None,
        walks: int = 3,
    ) -> Listing:
        """Every item of a paged endpoint, walked again (up to `walks` times) while rows are
        added or removed under the walk; the last walk's items, deduplicated by `id`."""
        items: list[dict[str, Any]] = []
        for walk in range(1, walks + 1):
            items, totals, received = [], set(), 0
            async for page in self.pages(
                path, endpoint, page_size=page_size, body=body, params=params
            ):
                items.extend(page.items)
                totals.add(page.total)
                received = page.received
            if len(totals) == 1 and received >= totals.pop():
                return Listing(_unique(items), True, walk)
            log.warning("beproduct.listing_moved", endpoint=endpoint, walk=walk, received=received)
        return Listing(_unique(items), False, walks)

    async def items(
        self,
        path: str,
        endpoint: str,
        *,
        page_size: int,
        body: Any,
        params: dict[str, Any] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a paged POST endpoint, as the pages arrive."""
        async for page in self.pages(path, endpoint, page_size=page_size, body=body, params=params):
            for item in page.items:
                yield item

    # -- requests ----------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        path: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Call `{api}/{path}` with retries; `endpoint` is its id-free name for metrics and errors.

        A 401 refreshes the access token once (shared with concurrent callers) and retries.
        """
        for first in (True, False):
            resp, used = await self._send(
                method, self._api + path, endpoint, auth=True, params=params, json=json
            )
            if resp.status_code == 401 and first:
                await self._refresh_after_401(used)
                continue
            return _decode(resp, method, endpoint)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self, method: str, url: str, endpoint: str, *, auth: bool, **kwargs: Any
    ) -> tuple[httpx.Response, str | None]:
        paused = 0.0
        while True:
            retrying = AsyncRetrying(
                stop=stop_after_attempt(self._attempts),
                wait=self._wait,
                retry=retry_if_exception_type(_Transient),
                reraise=True,
                before_sleep=_log_retry(endpoint),
                sleep=self._sleep,
            )
            try:
                async for attempt in retrying:
                    with attempt:
                        return await self._once(method, url, endpoint, auth, **kwargs)
            except _Transient as exc:
                raise BeProductUnavailable(
                    f"BeProduct {method} {endpoint} failed after {self._attempts} attempt(s);"
                    f" last: {exc.reason}. Try again later."
                ) from None
            except _Throttled as t:
                # A rate-limit wait is not a failure: it costs no retry, however long it is,
                # up to max_pause in all for this request.
                paused += t.wait.seconds
                self._check_pause(paused, t.wait.seconds, t.wait.window, method, endpoint)
                await self._pause(t.wait.seconds, "429", t.wait.source, t.wait.window, endpoint)

    async def _once(
        self, method: str, url: str, endpoint: str, auth: bool, **kwargs: Any
    ) -> tuple[httpx.Response, str | None]:
        # The token is fetched before taking a slot: a refresh is itself a request.
        token = await self._access_token() if auth else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if auth:  # the identity server has no rate limits of its own
            wait, source = self.pacer.reserve_one()
            if wait > 0:
                self._check_pause(wait, wait, None, method, endpoint)
                await self._pause(wait, "pacing", source, None, endpoint)
        async with self._sem:
            try:
                resp = await self._http.request(method, url, headers=headers, **kwargs)
            except httpx.TimeoutException as exc:
                API_CALLS.labels(endpoint=endpoint, status="timeout").inc()
                raise _Transient(f"timed out ({type(exc).__name__})") from None
            except httpx.TransportError as exc:
                API_CALLS.labels(endpoint=endpoint, status="network").inc()
                raise _Transient(f"connection failed ({type(exc).__name__})") from None
        API_CALLS.labels(endpoint=endpoint, status=str(resp.status_code)).inc()
        if auth:
            self.pacer.observe(resp.headers)
        if resp.status_code == 429:
            asked = throttle(resp.headers, _json(resp), self._clock())
            if asked is None:
                raise _Transient("HTTP 429")
            self.pacer.block(asked.seconds)  # every other request waits too
            raise _Throttled(asked)
        if resp.status_code in RETRY_STATUSES:
            raise _Transient(
                f"HTTP {resp.status_code}", retry_after_seconds(resp.headers.get("Retry-After"))
            )
        return resp, token

    def _check_pause(
        self, total: float, wait: float, window: str | None, method: str, endpoint: str
    ) -> None:
        if total <= self._max_pause:
            return
        at = resume_time(wait, self._clock)
        which = f"{window} " if window else ""
        raise BeProductThrottled(
            f"BeProduct's {which}rate limit is used up for {method} {endpoint}: it resets in"
            f" {wait:.0f} s (at {at:%Y-%m-%d %H:%M:%S} UTC), longer than this process waits."
            " Try again then.",
            retry_after=wait,
        )

    async def _pause(
        self, seconds: float, reason: str, source: str, window: str | None, endpoint: str
    ) -> None:
        """Wait out a rate limit, telling listeners and the log when it is worth a mention."""
        if reason == "429" or seconds >= 1.0:
            pause = Pause(
                seconds, resume_time(seconds, self._clock), reason, source, window, endpoint
            )
            self.pauses.append(pause)
            say = log.warning if seconds >= 1.0 else log.info
            say(
                "beproduct.paused",
                reason=reason,
                source=source,
                window=window,
                endpoint=endpoint,
                seconds=round(seconds, 3),
                resume_at=pause.resume_at.isoformat(timespec="seconds"),
            )
            if self.on_pause is not None:
                self.on_pause(pause)
        await self._sleep(seconds)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return min(exc.retry_after, self._retry_after_cap)
        return float(self._backoff(state))

    # -- tokens ------------------------------------------------------------------------------
    async def _access_token(self) -> str:
        if self._access and time.monotonic() < self._refresh_at:
            return self._access
        async with self._lock:
            # Whoever held the lock before us may already have refreshed.
            if not self._access or time.monotonic() >= self._refresh_at:
                await self._refresh_locked()
            assert self._access is not None
            return self._access

    async def _refresh_after_401(self, used: str | None) -> None:
        async with self._lock:
            if self._access == used:  # nobody refreshed since this token was sent
                await self._refresh_locked()

    async def _refresh_locked(self) -> None:
        tried: set[str] = set()
        while True:
            form = {
                "grant_type": "refresh_token",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "refresh_token": self._refresh_token,
            }
            resp, _ = await self._send("POST", self._token_url, "token", auth=False, data=form)
            if resp.status_code not in (400, 401, 403):
                break
            # Another process (or client) has just used, and so retired, this one-time token;
            # the hook knows where it keeps the rotated one. Each swap follows someone else's
            # successful refresh, so a herd of processes refreshing at once still converges.
            tried.add(self._refresh_token)
            if (
                self._on_invalid_grant is None
                or _error_name(resp) != "invalid_grant"
                or len(tried) > MAX_TOKEN_SWAPS
            ):
                raise BeProductAuthError()
            newer = await self._on_invalid_grant(self._refresh_token)
            if not newer or newer in tried:
                raise BeProductAuthError()
            self._refresh_token = newer
            log.info("beproduct.refresh_token_replaced", reason="invalid_grant")
        body = _decode(resp, "POST", "token")
        if not isinstance(body, dict) or not body.get("access_token"):
            raise BeProductError("BeProduct's token endpoint answered without an access token")
        lifetime = float(body.get("expires_in") or 3600)
        self._access = str(body["access_token"])
        # Refresh a little early so a token never expires between check and use.
        self._refresh_at = time.monotonic() + lifetime - min(60.0, lifetime / 10)
        # BeProduct's refresh tokens are reusable (the answer repeats the one sent), but a
        # rotating identity server returns a new one: adopt it, as both official SDKs do.
        rotated = body.get("refresh_token")
        changed = bool(rotated) and rotated != self._refresh_token
        log.info("beproduct.token_refreshed", expires_in=lifetime, rotated=changed)
        if changed:
            self._refresh_token = str(rotated)
            await self._tell_refresh_hook()

    async def _tell_refresh_hook(self) -> None:
        if self._on_refresh_token is None:
            return
        try:
            outcome = self._on_refresh_token(self._refresh_token)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception as exc:  # noqa: BLE001 - persisting is the caller's job; keep serving
            log.warning("beproduct.refresh_hook_failed", error=type(exc).__name__)


def _count(value: Any) -> int:
    """A page's `total` as a count (0 when missing or unreadable)."""
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _unique(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items in order, each `id` once (the last copy wins: it was read later)."""
    by_id: dict[Any, dict[str, Any]] = {}
    for item in items:
        by_id[item.get("id", id(item))] = item
    return list(by_id.values())


def _decode(resp: httpx.Response, method: str, endpoint: str) -> Any:
    code = resp.status_code
    if code == 404:
        raise BeProductNotFound(f"BeProduct {method} {endpoint}: not found (HTTP 404)")
    if code == 401:
        raise BeProductAuthError()
    if 400 <= code < 500:
        raise BeProductRejected(
            f"BeProduct rejected {method} {endpoint}: HTTP {code}" + _error_code(resp),
            detail=_error_message(resp, code),
            body=_small_json(resp),
        )
    if code >= 300:
        raise BeProductUnavailable(f"BeProduct {method} {endpoint} failed: HTTP {code}")
    if not resp.content.strip():
        return None
    try:
        return orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        raise BeProductError(
            f"BeProduct {method} {endpoint} answered with a body that is not JSON"
        ) from None


def _json(resp: httpx.Response) -> Any:
    """The answer's JSON body, or None when it has none."""
    try:
        return orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        return None


def _error_message(resp: httpx.Response, code: int) -> str:
    """BeProduct's explanation of a 4xx: the body's `message` (or `error`), one line, at most
    500 characters; the status code when it gave none."""
    body = _json(resp)
    found = None
    if isinstance(body, dict):
        found = body.get("message") or body.get("Message") or body.get("error")
    elif isinstance(body, str):
        found = body
    if not isinstance(found, str) or not found.strip():
        return f"HTTP {code}"
    return f"HTTP {code}: " + " ".join(found.split())[:500]


def _small_json(resp: httpx.Response) -> Any:
    """The JSON body of an error answer when it is small (kept with a rejected change)."""
    return _json(resp) if len(resp.content) <= 16_384 else None


def _error_code(resp: httpx.Response) -> str:
    """` (invalid_filter)` when the body carries a short error code; never the body itself."""
    code = _error_name(resp)
    return f" ({code})" if code else ""


def _error_name(resp: httpx.Response) -> str | None:
    """The body's short `error` code (OAuth2 and API errors), if it has one."""
    try:
        code = orjson.loads(resp.content).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return code if isinstance(code, str) and _ERROR_CODE.match(code) else None


def _log_retry(endpoint: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "beproduct.retry",
            endpoint=endpoint,
            attempt=state.attempt_number,
            reason=getattr(exc, "reason", type(exc).__name__),
            wait_seconds=round(wait, 3),
        )

    return before_sleep

"""Reverse sync: send the change requests in `ops.timeline_change_request` to BeProduct.

A request is durable before anything is sent (ops_api.request_timeline_change). The sender,
run by `worker` and by `serve`'s workers when the API is configured, works in batches:

1. **Claim** due requests under a lease (FOR UPDATE SKIP LOCKED; one milestone's requests in
   the order they were made). A sender killed mid-send leaves its requests `sending`; when the
   lease runs out another sender claims them again.
2. **Check against our row**: a field the request sets whose stored value is neither the base
   the requester saw nor the requested value was changed by someone else: `conflict`, with
   both values, and nothing is sent (unless the request says `force`).
3. **Re-read from BeProduct** right before writing, one listing call per plan and kind
   (`Id In [...]`): BeProduct's Edit API has no precondition, so this is the last check. A
   request BeProduct already satisfies (our earlier attempt landed before a crash) is
   confirmed without writing again; a conflicting one is `conflict`.
4. **Write** one `Tracking/Plan/{id}/{Style|Material}/Timelines/Edit` per plan and kind with
   the body BeProduct's SDKs send, through the client's rate limiting; the lease is renewed
   first, and a request another sender took over meanwhile is left to it. 2xx: `sent`. 4xx:
   `rejected` with BeProduct's message (a batch is split so only the bad request is rejected).
   Anything else: retried with backoff, `dead` after the last attempt (`outbox --retry`).
5. **Confirm**: the OnChange webhook BeProduct sends for our write is applied like any other
   event, and `confirm_from_events` (called inside that apply transaction) confirms the
   request with the event's id. A request without an echo after the confirm window is read
   back from the API: confirmed if BeProduct holds the values, `conflict` if not.

The remaining window: a change made in BeProduct between step 3's read and step 4's write is
overwritten for the fields the request sets (BeProduct offers no compare-and-set). The window
is one API round trip, plus any rate-limit pause between the two calls.

Effect exactly once: statuses and dates are absolute values and people are added or removed as
sets, so sending a request twice (a sender killed after BeProduct applied the write but before
`sent` was stored) leaves BeProduct as sending it once; the re-read in step 3 even skips the
second write. Not covered: if someone removes a person our earlier, unrecorded attempt added
(or changes a field it set) between that attempt and the retry's re-read, the retry sees the
request as unsatisfied but not conflicting and adds the person (or sets the field) again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Any, Protocol

import orjson
import structlog
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from beproduct_sync import db
from beproduct_sync._backoff import Backoff, keep_running, pause, retry_delay
from beproduct_sync.api.client import Listing
from beproduct_sync.api.tokens import open_client
from beproduct_sync.config import Settings
from beproduct_sync.errors import (
    BeProductError,
    BeProductNotFound,
    BeProductRejected,
    BeProductThrottled,
)
from beproduct_sync.metrics import OUTBOX_BATCH_SIZE, OUTBOX_OUTCOMES, OUTBOX_REQUESTS
from beproduct_sync.model.changes import (
    SCALARS,
    ChangeRequest,
    MilestoneState,
    conflict_detail,
    conflicting_fields,
    edit_body,
    find_item,
    satisfied,
    state_from_api,
    state_from_people,
    version_moved,
)
from beproduct_sync.model.rows import RowSet
from beproduct_sync.sql import query

log = structlog.get_logger("beproduct_sync.outbox")

CHANNEL = "beproduct_sync_outbox"
STATES = ("pending", "sending", "sent", "confirmed", "conflict", "rejected", "dead")
RE_READ_PAGE_SIZE = 100  # BeProduct caps pages at 100 rows
STATS_INTERVAL_SECONDS = 5.0
MAX_PAUSE_SECONDS = 30.0


class Api(Protocol):
    """The part of the BeProduct client the sender uses (api.client provides it)."""

    def timeline_request(
        self, plan_id: str, kind: str, filters: list[dict[str, Any]] | None
    ) -> dict[str, Any]: ...

    async def listing(
        self,
        path: str,
        endpoint: str,
        *,
        page_size: int,
        body: Any,
        params: dict[str, Any] | None = None,
        walks: int = 3,
    ) -> Listing: ...

    async def edit_style_timelines(self, plan_id: str, edits: list[dict[str, Any]]) -> Any: ...

    async def edit_material_timelines(self, plan_id: str, edits: list[dict[str, Any]]) -> Any: ...


@dataclass(frozen=True)
class OutboxConfig:
    """The settings the sender reads."""

    zone: tzinfo
    batch_size: int = 200
    poll_seconds: float = 1.0
    lease_seconds: float = 120.0
    max_attempts: int = 8
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 600.0
    confirm_seconds: float = 120.0
    listen: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboxConfig:
        """The reverse-sync part of the settings."""
        return cls(
            zone=settings.date_zone,
            batch_size=settings.beproduct_sync_outbox_batch_size,
            poll_seconds=settings.beproduct_sync_outbox_poll_seconds,
            lease_seconds=settings.beproduct_sync_outbox_lease_seconds,
            max_attempts=settings.beproduct_sync_outbox_max_attempts,
            retry_base_seconds=settings.beproduct_sync_outbox_retry_base_seconds,
            retry_max_seconds=settings.beproduct_sync_outbox_retry_max_seconds,
            confirm_seconds=settings.beproduct_sync_outbox_confirm_seconds,
            listen=settings.beproduct_sync_listen,
        )


@dataclass(frozen=True)
class Stored:
    """Our stored milestone: its state and source version."""

    state: MilestoneState
    version: str | None


# -- the echo: called inside the apply transaction of every event batch ----------------------
async def confirm_from_events(conn: AsyncConnection[Any], events: list[tuple[int, RowSet]]) -> None:
    """Confirm the requests whose milestone an applied (or stale) event shows holding every
    requested value: BeProduct's echo of our write. One statement, after a lookup that skips it
    when no request is in flight (nearly always: a request is in flight for seconds).

    The lookup runs in this apply transaction, never from a cache, so it cannot miss an echo:
    the sender commits a request as `sending` before it calls BeProduct's Edit, BeProduct sends
    the echo after that call, and the echo's event is stored, claimed and applied after it
    arrives, so every statement of its apply sees the request in flight."""
    if not any(rs.milestones for _, rs in events):
        return
    cur = await conn.execute(query("outbox_in_flight"))
    found = await cur.fetchone()
    if not found or not found[0]:
        return
    rows = [
        {
            "log_id": log_id,
            "id": m["id"],
            "status": m["status"],
            "rev_date": m["rev_date"],
            "final_date": m["final_date"],
            "assignees": [a["assignee_id"] for a in m["assignees"]],
            "share": sorted(state_from_people(None, None, None, [], m["shared_with"]).share),
            "at": m["source_updated_at"],
        }
        for log_id, rs in events
        for m in rs.milestones
    ]
    if not rows:
        return
    cur = await conn.execute(query("outbox_confirm_events"), {"rows": orjson.dumps(rows).decode()})
    confirmed = await cur.fetchall()
    if confirmed:
        OUTBOX_OUTCOMES.labels("confirmed").inc(len(confirmed))
        for request_id, event_id in confirmed:
            log.info("change_confirmed", request_id=request_id, by="echo", event_id=event_id)


# -- one batch ---------------------------------------------------------------------------------
@dataclass
class _Settle:
    """Outcomes of one batch, written in one statement per source state."""

    rows: list[dict[str, Any]]

    def add(self, req: ChangeRequest, state: str, **more: Any) -> None:
        self.rows.append({"id": req.id, "state": state, **more})
        OUTBOX_OUTCOMES.labels("retry" if state == "pending" else state).inc()
        log.info(
            "change_" + ("retry" if state == "pending" else state),
            request_id=req.id,
            milestone_id=req.milestone_id,
            **{k: v for k, v in more.items() if k in ("last_error", "confirmed_by")},
        )


class Sender:
    """Claims, checks, re-reads and writes change requests (see the module docstring)."""

    def __init__(self, api: Api, config: OutboxConfig, owner: str) -> None:
        self.api, self.config, self.owner = api, config, owner
        self._earlier: dict[int, dict[str, set[str | None]]] = {}
        self._conn: AsyncConnection[Any] | None = None

    async def run_batch(self, conn: AsyncConnection[Any]) -> int:
        """Claim and send one batch; the number of requests claimed."""
        cfg = self.config
        cur = conn.cursor(row_factory=dict_row)
        params = {"limit": cfg.batch_size, "owner": self.owner, "lease_seconds": cfg.lease_seconds}
        claimed = [
            ChangeRequest.from_row(r)
            for r in await (await cur.execute(query("outbox_claim"), params)).fetchall()
        ]
        if not claimed:
            return 0
        out = _Settle([])
        # Claimed again and again without ever finishing: its sender died each time.
        live = []
        for req in claimed:
            if req.claims > cfg.max_attempts + 1:
                out.add(
                    req,
                    "dead",
                    last_error=f"claimed {req.claims} times without finishing"
                    " (the sender stopped each time); replay with `outbox --retry`",
                )
            else:
                live.append(req)
        stored = await _stored(conn, [r.milestone_id for r in live])
        self._earlier = await _earlier(conn, [r.id for r in live])
        ready: list[tuple[ChangeRequest, MilestoneState]] = []
        for req in live:
            ours = stored.get(req.milestone_id)
            if ours is None:
                out.add(req, "rejected", last_error="the milestone is no longer stored here")
                continue
            fields = conflicting_fields(req, ours.state, self._earlier.get(req.id))
            if not fields and version_moved(req, ours.version):
                fields = [n for n in req.changes if n in SCALARS] or ["source_version"]
            if fields:
                detail = conflict_detail(req, fields, ours.state, ours.state, "database")
                out.add(
                    req,
                    "conflict",
                    conflict=detail,
                    last_error="changed since the requester read it: " + ", ".join(fields),
                )
                continue
            ready.append((_with_base(req, ours.state), ours.state))
        groups: dict[tuple[str, str], list[tuple[ChangeRequest, MilestoneState]]] = {}
        for req, seen in ready:
            groups.setdefault((req.plan_id, req.kind), []).append((req, seen))
        self._conn = conn
        await asyncio.gather(
            *(self._group(plan, kind, g, out) for (plan, kind), g in groups.items())
        )
        await _settle(conn, out, self.owner, "sending")
        return len(claimed)

    async def _group(
        self,
        plan: str,
        kind: str,
        reqs: list[tuple[ChangeRequest, MilestoneState]],
        out: _Settle,
    ) -> None:
        try:
            rows = await self._read(plan, kind, [r.record_id for r, _ in reqs])
        except BeProductError as exc:
            for req, _ in reqs:
                self._transient(req, exc, out)
            return
        to_send = []
        for req, ours in reqs:
            item = find_item(rows.get(req.record_id.lower()), req.milestone_id)
            if item is None:
                out.add(
                    req,
                    "rejected",
                    last_error="BeProduct has no such milestone in this"
                    f" {req.entity_type} row (removed from the plan?)",
                )
                continue
            theirs = state_from_api(item, self.config.zone)
            if satisfied(req, theirs):
                out.add(req, "confirmed", confirmed_by="already", response=item)
                continue
            fields = conflicting_fields(req, theirs, self._earlier.get(req.id))
            if fields:
                detail = conflict_detail(req, fields, ours, theirs, "beproduct")
                out.add(
                    req,
                    "conflict",
                    conflict=detail,
                    response=item,
                    last_error="changed in BeProduct since the requester read it: "
                    + ", ".join(fields),
                )
                continue
            to_send.append(req)
        if to_send:
            await self._edit(plan, kind, to_send, out)

    async def _read(self, plan: str, kind: str, record_ids: list[str]) -> dict[str, Any]:
        ids = sorted(set(record_ids))
        request = self.api.timeline_request(
            plan, kind, [{"field": "Id", "operator": "In", "value": ids}]
        )
        listing = await self.api.listing(**{**request, "page_size": RE_READ_PAGE_SIZE})
        return {str(r.get("id", "")).lower(): r for r in listing.items}

    async def _edit(
        self, plan: str, kind: str, reqs: Sequence[ChangeRequest], out: _Settle
    ) -> None:
        edit = (
            self.api.edit_material_timelines
            if kind == "Material"
            else self.api.edit_style_timelines
        )
        # Rate-limit pauses may have outlasted the lease: send only what is still ours.
        assert self._conn is not None
        cur = await self._conn.execute(
            query("outbox_renew"),
            {
                "ids": [r.id for r in reqs],
                "owner": self.owner,
                "lease_seconds": self.config.lease_seconds,
            },
        )
        still = {int(r[0]) for r in await cur.fetchall()}
        reqs = [r for r in reqs if r.id in still]
        if not reqs:
            return
        OUTBOX_BATCH_SIZE.observe(len(reqs))
        try:
            answer = await edit(plan, edit_body(reqs))
        except (BeProductRejected, BeProductNotFound) as exc:
            if len(reqs) > 1:  # one bad milestone fails the whole body: find it
                for req in reqs:
                    await self._edit(plan, kind, [req], out)
                return
            body = getattr(exc, "body", None)
            out.add(
                reqs[0],
                "rejected",
                last_error=_rejection(exc),
                response=body if isinstance(body, dict) else None,
            )
            return
        except BeProductError as exc:
            for req in reqs:
                self._transient(req, exc, out)
            return
        answered = {str(r.get("id", "")).lower(): r for r in answer or [] if isinstance(r, dict)}
        for req in reqs:
            item = find_item(answered.get(req.record_id.lower()), req.milestone_id)
            out.add(req, "sent", response=item)

    def _transient(self, req: ChangeRequest, exc: BeProductError, out: _Settle) -> None:
        attempt = req.attempts + 1
        if attempt >= self.config.max_attempts:
            out.add(req, "dead", attempt=True, last_error=f"{exc} (attempt {attempt}; gave up)")
            return
        delay = retry_delay(attempt, self.config.retry_base_seconds, self.config.retry_max_seconds)
        if isinstance(exc, BeProductThrottled):
            delay = max(delay, exc.retry_after)
        out.add(
            req,
            "pending",
            attempt=True,
            retry_seconds=delay,
            last_error=f"{exc} (attempt {attempt}; retrying in {delay:.0f} s)",
        )

    # -- confirmation by read-back -------------------------------------------------------------
    async def run_confirmations(self, conn: AsyncConnection[Any]) -> int:
        """Read back sent requests the echo has not confirmed within the window."""
        cfg = self.config
        cur = conn.cursor(row_factory=dict_row)
        params = {
            "limit": cfg.batch_size,
            "owner": self.owner,
            "lease_seconds": cfg.lease_seconds,
            "window_seconds": cfg.confirm_seconds,
        }
        claimed = [
            ChangeRequest.from_row(r)
            for r in await (await cur.execute(query("outbox_claim_unconfirmed"), params)).fetchall()
        ]
        if not claimed:
            return 0
        out = _Settle([])
        cur2 = await conn.execute(query("outbox_superseded"), {"ids": [r.id for r in claimed]})
        superseded = {int(a): int(b) for a, b in await cur2.fetchall()}
        groups: dict[tuple[str, str], list[ChangeRequest]] = {}
        for req in claimed:
            groups.setdefault((req.plan_id, req.kind), []).append(req)
        for (plan, kind), reqs in groups.items():
            try:
                rows = await self._read(plan, kind, [r.record_id for r in reqs])
            except BeProductError as exc:
                log.warning("change_readback_failed", plan_id=plan, error=str(exc))
                continue  # the lease runs out and the next pass tries again
            for req in reqs:
                item = find_item(rows.get(req.record_id.lower()), req.milestone_id)
                theirs = None if item is None else state_from_api(item, cfg.zone)
                if theirs is not None and satisfied(req, theirs):
                    out.add(req, "confirmed", confirmed_by="readback", response=item)
                elif theirs is not None and req.id in superseded:
                    # BeProduct took it (2xx) and then our own later request.
                    out.add(
                        req,
                        "confirmed",
                        confirmed_by="readback",
                        response=item,
                        last_error=f"followed by request {superseded[req.id]} before the read-back",
                    )
                elif theirs is None:
                    out.add(
                        req,
                        "rejected",
                        last_error="after our write BeProduct no longer"
                        " has this milestone (removed from the plan?)",
                    )
                else:
                    fields = [n for n in req.changes if theirs.value(n) != req.wanted(n)]
                    detail = conflict_detail(req, fields or ["people"], theirs, theirs, "readback")
                    out.add(
                        req,
                        "conflict",
                        conflict=detail,
                        response=item,
                        last_error="after our write BeProduct holds other values"
                        " (changed again since?)",
                    )
        await _settle(conn, out, self.owner, "sent")
        return len(claimed)


def _with_base(req: ChangeRequest, ours: MilestoneState) -> ChangeRequest:
    """The request with every field it sets in its base: a base given as a source version
    only (which matched our row) stands for our row's values."""
    missing = {n: ours.value(n) for n in req.changes if n not in req.base}
    if not missing:
        return req
    base = {
        **req.base,
        **{n: (v.lower() if n == "status" and v else v) for n, v in missing.items()},
    }
    return replace(req, base=base)


def _rejection(exc: BeProductError) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return f"BeProduct rejected the edit: {message}"


async def _stored(conn: AsyncConnection[Any], ids: list[str]) -> dict[str, Stored]:
    if not ids:
        return {}
    cur = conn.cursor(row_factory=dict_row)
    rows = await (await cur.execute(query("outbox_current"), {"ids": ids})).fetchall()
    return {
        r["id"]: Stored(
            state_from_people(
                r["status"], r["rev_date"], r["final_date"], r["assigned_to"], r["shared_with"]
            ),
            r["source_version"],
        )
        for r in rows
    }


async def _earlier(
    conn: AsyncConnection[Any], ids: list[int]
) -> dict[int, dict[str, set[str | None]]]:
    """Per request id, per field, the values earlier requests of ours set (see outbox_ours)."""
    if not ids:
        return {}
    cur = conn.cursor(row_factory=dict_row)
    found: dict[int, dict[str, set[str | None]]] = {}
    for r in await (await cur.execute(query("outbox_ours"), {"ids": ids})).fetchall():
        fields = found.setdefault(int(r["request_id"]), {})
        for name in r["changes"] or ():
            value = r[name]
            fields.setdefault(name, set()).add(None if value is None else str(value))
    return found


async def _settle(conn: AsyncConnection[Any], out: _Settle, owner: str, from_state: str) -> None:
    if not out.rows:
        return
    rows = [
        {
            "id": r["id"],
            "state": r["state"],
            "conflict": r.get("conflict"),
            "last_error": r.get("last_error"),
            "response": r.get("response"),
            "confirmed_by": r.get("confirmed_by"),
            "retry_seconds": r.get("retry_seconds"),
            "attempt": bool(r.get("attempt")),
        }
        for r in out.rows
    ]
    await conn.execute(
        query("outbox_settle"),
        {"rows": orjson.dumps(rows).decode(), "owner": owner, "from_state": from_state},
    )


async def state_counts(conn: AsyncConnection[Any]) -> dict[str, int]:
    """Change requests per state, every state present."""
    found = dict(await (await conn.execute(query("outbox_state_counts"))).fetchall())
    return {s: int(found.get(s, 0)) for s in STATES}


# -- the loop ----------------------------------------------------------------------------------
async def run_sender(
    url: str, config: OutboxConfig, api: Api, stop: asyncio.Event, owner: str
) -> None:
    """Send change requests until `stop` is set; reconnects after database errors."""
    log.info("outbox_sender_started", batch_size=config.batch_size, owner=owner)
    sender = Sender(api, config, owner)

    async def connected(backoff: Backoff) -> None:
        name = "beproduct-sync outbox"
        async with await db.aconnect(url, autocommit=True, application_name=name) as conn:
            if config.listen:
                await conn.execute(f"LISTEN {CHANNEL}")
            next_stats = 0.0
            while not stop.is_set():
                sent = await sender.run_batch(conn)
                await sender.run_confirmations(conn)
                backoff.reset()
                if time.monotonic() >= next_stats:
                    for state, count in (await state_counts(conn)).items():
                        OUTBOX_REQUESTS.labels(state).set(count)
                    next_stats = time.monotonic() + STATS_INTERVAL_SECONDS
                if sent < config.batch_size:  # a full batch means more is due: no pause
                    await _wait(conn, config, stop)

    await keep_running("outbox_db_error", stop, connected)
    log.info("outbox_sender_stopped")


async def _wait(conn: AsyncConnection[Any], config: OutboxConfig, stop: asyncio.Event) -> None:
    """Until a new request is announced (NOTIFY), the poll interval passes, or `stop`."""
    if not config.listen:
        await pause(stop, config.poll_seconds)
        return
    async for _ in conn.notifies(timeout=config.poll_seconds, stop_after=1):
        return


async def run_with_api(settings: Settings, url: str, stop: asyncio.Event, owner: str) -> None:
    """Open the BeProduct client and run the sender with it until `stop` is set."""
    config = OutboxConfig.from_settings(settings)
    max_pause = min(MAX_PAUSE_SECONDS, config.lease_seconds / 4)

    async def opened(backoff: Backoff) -> None:
        async with await open_client(settings, url, max_pause=max_pause) as client:
            await run_sender(url, config, client, stop, owner)

    await keep_running("outbox_db_error", stop, opened)

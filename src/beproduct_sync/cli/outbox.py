"""`beproduct-sync change` (record a reverse-sync change request) and `beproduct-sync outbox`."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Annotated, Any

import typer

from beproduct_sync import db
from beproduct_sync.api.change_requests import RETRYABLE, list_requests, request_change, retry
from beproduct_sync.cli.common import app, fail, run, runtime
from beproduct_sync.errors import SyncError
from beproduct_sync.inbox.report import CHANGE_REQUEST_STATES


def _day(value: str | None, name: str) -> str | None:
    if value is None or value.lower() in ("", "none", "null"):
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise typer.BadParameter(f"{name} must be a date written YYYY-MM-DD") from None


@app.command()
def change(
    milestone_id: Annotated[str, typer.Argument(help="The milestone (timeline item) id.")],
    status: Annotated[
        str | None, typer.Option(help="New status, e.g. approved, in_progress, na.")
    ] = None,
    rev_date: Annotated[
        str | None, typer.Option(help="New revised date (YYYY-MM-DD; 'none' clears it).")
    ] = None,
    final_date: Annotated[
        str | None, typer.Option(help="New final date (YYYY-MM-DD; 'none' clears it).")
    ] = None,
    assign: Annotated[
        list[str] | None, typer.Option(help="User id to assign (repeatable).")
    ] = None,
    unassign: Annotated[
        list[str] | None, typer.Option(help="User id to unassign (repeatable).")
    ] = None,
    share: Annotated[list[str] | None, typer.Option(help="Partner id to share with.")] = None,
    unshare: Annotated[
        list[str] | None, typer.Option(help="Partner id to stop sharing with.")
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(help="Idempotency key: the same key never records twice (default: new)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Send even if BeProduct changed meanwhile.")
    ] = False,
    by: Annotated[str | None, typer.Option(help="Who asks (default: the database role).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the request as JSON.")] = False,
) -> None:
    """Ask for a milestone change in BeProduct; the workers send it (see `outbox`)."""
    wanted: dict[str, Any] = {}
    if status is not None:
        wanted["status"] = status
    if rev_date is not None:
        wanted["rev_date"] = _day(rev_date, "--rev-date")
    if final_date is not None:
        wanted["final_date"] = _day(final_date, "--final-date")
    for name, people in (
        ("assignees_add", assign),
        ("assignees_remove", unassign),
        ("share_add", share),
        ("share_remove", unshare),
    ):
        if people:
            wanted[name] = people
    if not wanted:
        raise fail("say what to change: --status, --rev-date, --final-date, --assign, …")
    rt = runtime()

    async def go() -> dict[str, Any]:
        async with await db.aconnect(
            rt.url, autocommit=True, application_name="beproduct-sync change"
        ) as conn:
            return await request_change(
                conn,
                milestone_id,
                key or f"cli-{uuid.uuid4()}",
                wanted,
                force=force,
                requested_by=by,
            )

    try:
        found = run(go())
    except SyncError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(found, indent=2, default=_json_value))
        return
    verb = "recorded" if found.get("created") else "already recorded"
    typer.echo(f"{verb} change request {found['id']} ({found['state']}): {_summary(found)}")


def _state(value: str) -> str:
    if value not in CHANGE_REQUEST_STATES:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(CHANGE_REQUEST_STATES)}")
    return value


@app.command()
def outbox(
    states: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            parser=_state,
            metavar="STATE",
            help="Only requests in this state (repeatable): " + ", ".join(CHANGE_REQUEST_STATES),
        ),
    ] = None,
    retry_ids: Annotated[
        list[int] | None,
        typer.Option("--retry", metavar="ID", help="Send a conflict/rejected/dead request again."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="With --retry: skip the conflict checks this time.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """List reverse-sync change requests (newest first), or send failed ones again."""
    rt = runtime()

    async def go() -> tuple[list[int] | None, list[dict[str, Any]]]:
        async with await db.aconnect(
            rt.url, autocommit=True, application_name="beproduct-sync outbox"
        ) as conn:
            if retry_ids:
                reset = await retry(conn, retry_ids, force)
                return reset, await list_requests(conn, ids=retry_ids, limit=limit)
            return None, await list_requests(conn, states or (), limit=limit)

    try:
        reset, rows = run(go())
    except SyncError as exc:
        raise fail(str(exc)) from None
    if as_json:
        out: dict[str, Any] = {"requests": rows}
        if reset is not None:
            out["retried"] = reset
        typer.echo(json.dumps(out, indent=2, default=_json_value))
    else:
        for r in rows:
            when = r["requested_at"].strftime("%Y-%m-%d %H:%M:%S")
            line = f"{r['id']:>8}  {r['state']:<9} {when}  {r['milestone_id']}  {_summary(r)}"
            if r["state"] in ("conflict", "rejected", "dead", "pending") and r["last_error"]:
                line += f"  — {r['last_error']}"
            typer.echo(line)
        if reset is not None:
            typer.echo(f"sent {len(reset)} request(s) back to pending")
    if reset is not None:
        missed = sorted(set(retry_ids or ()) - set(reset))
        if missed:
            typer.echo(
                "not retried (no such request, or not "
                + "/".join(RETRYABLE)
                + "): "
                + ", ".join(map(str, missed)),
                err=True,
            )
            raise typer.Exit(1)


def _summary(r: dict[str, Any]) -> str:
    parts = []
    for k, v in (r.get("change") or {}).items():
        parts.append(f"{k}={','.join(v) if isinstance(v, list) else v}")
    return " ".join(parts) + (" (force)" if r.get("force") else "")


def _json_value(value: object) -> str:
    return value.isoformat() if isinstance(value, (datetime, date)) else str(value)

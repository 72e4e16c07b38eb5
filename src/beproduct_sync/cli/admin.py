"""Commands about the database and the inbox: `migrate`, `ingest`, `status`, `prune`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from beproduct_sync import db, migrations
from beproduct_sync.cli.common import app, fail, run, runtime
from beproduct_sync.errors import SyncError
from beproduct_sync.inbox import retention
from beproduct_sync.inbox.report import gather


@app.command()
def migrate() -> None:
    """Apply pending database migrations (safe to run any number of times)."""
    rt = runtime(migrate=False)
    try:
        applied = migrations.migrate(
            rt.url, rt.settings.beproduct_sync_migrate_lock_timeout_seconds
        )
    except SyncError as exc:
        raise fail(str(exc)) from None
    listed = f": {', '.join(applied)}" if applied else ""
    typer.echo(f"applied {len(applied)} migration(s){listed}")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="JSON body files or directories of them.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Record webhook bodies from files and apply them one by one, in the order given."""
    from beproduct_sync.apply.ingest import ingest as do_ingest

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise fail(f"no such file or directory: {', '.join(missing)}")
    rt = runtime()

    async def go() -> Any:
        async with await db.aconnect(rt.url, autocommit=True) as conn:
            return await do_ingest(conn, paths, rt.policy)

    try:
        summary = run(go())
    except SyncError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(
            json.dumps(
                {
                    **summary.counts,
                    "files": [
                        {
                            "path": str(r.path),
                            "status": r.status,
                            "id": r.log_id,
                            "detail": r.detail,
                        }
                        for r in summary.results
                    ],
                },
                indent=2,
            )
        )
    else:
        for r in summary.results:
            if r.status == "failed":
                typer.echo(f"failed  {r.path}: {r.detail}", err=True)
        typer.echo(" ".join(f"{k}={v}" for k, v in summary.counts.items()))
    if not summary.ok:
        raise typer.Exit(1)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON (shape: README).")] = False,
    errors: Annotated[int, typer.Option(help="How many recent errors to show.")] = 10,
) -> None:
    """Counts of events per status, queue depth, enrichment jobs and the most recent errors."""
    rt = runtime()
    try:
        report = run(gather(rt.url, errors))
    except SyncError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=_json_value))
        return
    typer.echo("events by status:")
    for name, count in report["events"].items():
        typer.echo(f"  {name:<10} {count}")
    typer.echo(f"queue depth: {report['queue_depth']}")
    jobs = ", ".join(f"{k} {v}" for k, v in report["enrichment_jobs"].items())
    typer.echo(f"enrichment jobs: {jobs}")
    changes = ", ".join(f"{k} {v}" for k, v in report["change_requests"].items())
    typer.echo(f"change requests (reverse sync): {changes}")
    if report["recent_errors"]:
        typer.echo("recent errors:")
        for e in report["recent_errors"]:
            typer.echo(
                f"  {e['created_at']:%Y-%m-%d %H:%M:%S} {e['severity']:<7} {e['entity_id'] or '-'}"
                f" (event {e['sync_log_id']}): {e['message']}"
            )


def _json_value(value: object) -> str:
    """Timestamps as ISO 8601; anything else JSON cannot hold as its text."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


@app.command()
def prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Delete what is older than this: 90d, 12h, 2w.")
    ],
    statuses: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            metavar="STATUS",
            help="Only events in this status (repeatable; default: applied, stale, ignored;"
            " dead and failed only when named).",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, delete nothing.")] = False,
) -> None:
    """Delete old settled events from the inbox, and old import errors, in short batches."""
    try:
        cutoff = datetime.now(UTC) - retention.parse_duration(older_than)
    except SyncError as exc:
        raise fail(str(exc)) from None
    rt = runtime()

    async def go() -> retention.Pruned:
        async with await db.aconnect(
            rt.url, autocommit=True, application_name="beproduct-sync prune"
        ) as conn:
            return await retention.prune(
                conn, cutoff, statuses or retention.DEFAULT_STATUSES, dry_run=dry_run
            )

    try:
        done = run(go())
    except SyncError as exc:
        raise fail(str(exc)) from None
    verb = "would delete" if dry_run else "deleted"
    typer.echo(
        f"{verb} {done.events} event(s) ({', '.join(done.statuses)}) received before"
        f" {done.cutoff:%Y-%m-%d %H:%M:%S}Z and {done.import_errors} import error(s)"
    )

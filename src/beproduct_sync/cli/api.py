"""Commands that read the BeProduct API: `backfill` and `reconcile`."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any

import typer

from beproduct_sync.api.backfill import SKEW_MARGIN_SECONDS, Options, Progress
from beproduct_sync.api.backfill import run as do_backfill
from beproduct_sync.api.client import BeProductClient
from beproduct_sync.api.tokens import open_client
from beproduct_sync.bootstrap import Runtime
from beproduct_sync.cli.common import app, fail, long_running, run, runtime
from beproduct_sync.errors import SyncError

# A backfill pass's collector thresholds: it allocates faster and keeps less than `serve`.
BACKFILL_GC_THRESHOLDS = (50_000, 20, 100)


def _client() -> tuple[Runtime, Callable[[], Awaitable[BeProductClient]]]:
    """The runtime and an opener of a client sharing the stored refresh token (api.tokens)."""
    rt = runtime()
    if not rt.settings.api_configured:
        raise fail(
            "the BeProduct API is not configured: set BEPRODUCT_COMPANY, BEPRODUCT_CLIENT_ID,"
            " BEPRODUCT_CLIENT_SECRET and BEPRODUCT_REFRESH_TOKEN"
        )
    return rt, partial(open_client, rt.settings, rt.url)


@app.command()
def backfill(
    folder: Annotated[
        list[str] | None, typer.Option(help="Tracking folder id (repeatable).")
    ] = None,
    plan: Annotated[list[str] | None, typer.Option(help="Tracking plan id (repeatable).")] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only rows modified at or after this ISO date or timestamp (a date is midnight"
            " UTC; an offset is honoured): an incremental catch-up."
        ),
    ] = None,
    page_size: Annotated[int, typer.Option(min=1, max=500)] = 20,
    restart: Annotated[bool, typer.Option(help="Ignore an unfinished run's checkpoints.")] = False,
    full: Annotated[
        bool,
        typer.Option(
            help="Fetch every row; by default each plan's rows are fetched only if modified"
            " since its last complete pass (minus --skew-margin)."
        ),
    ] = False,
    skew_margin: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Seconds subtracted from the last complete pass's start when asking for"
            " rows modified since: more than BeProduct's clock may lag the database's.",
        ),
    ] = SKEW_MARGIN_SECONDS,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Copy folders, plans, style and material timelines from the BeProduct API (incremental
    after the first complete pass; --full for everything)."""
    try:
        opts = Options(
            tuple(folder or ()),
            tuple(plan or ()),
            since,
            page_size,
            restart,
            full=full,
            margin_seconds=skew_margin,
        )
    except ValueError as exc:
        raise fail(f"--since: {exc}; use an ISO date or timestamp such as 2026-01-31") from None
    rt, open_client = _client()
    # A pass allocates millions of short-lived objects (API rows, row sets, parameters) and
    # keeps few: with the default thresholds the collector rescans the growing heap again and
    # again (about a sixth of a full pass's CPU). What is alive now is never garbage.
    long_running(BACKFILL_GC_THRESHOLDS)

    async def go() -> dict[str, Any]:
        async with await open_client() as client:
            with _display() as progress:
                # Rate-limit pauses (minutes or hours in hour and day windows) are shown, not
                # failures: the bar says until when; without a terminal, the client logs it.
                client.on_pause = progress.paused
                return await do_backfill(
                    rt.url,
                    client,
                    opts,
                    rt.policy.zone,
                    concurrency=rt.settings.beproduct_api_max_concurrency,
                    progress=progress,
                )

    try:
        summary = run(go())
    except SyncError as exc:
        raise fail(f"{exc} (rerun the same command to resume)", 1) from None
    except ExceptionGroup as group:  # plans that failed; the others ran to their end
        known = group.subgroup(SyncError)
        if known is None or len(known.exceptions) != len(group.exceptions):
            raise
        raise fail(
            f"{len(group.exceptions)} plan(s) failed, the first: {known.exceptions[0]}"
            " (the other plans' rows are kept; rerun the same command to resume)",
            1,
        ) from None
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        typer.echo(
            f"backfilled {summary['plans']} plan(s): {summary['rows']} rows,"
            f" {summary['milestones']} milestones ({summary['rows_changed']} rows and"
            f" {summary['milestones_changed']} milestones changed) in {summary['seconds']} s"
            + (
                f", {summary['pauses']} rate-limit pause(s) of {summary['paused_seconds']} s"
                if summary["pauses"]
                else ""
            )
        )
    if summary["incomplete"]:
        missing = ", ".join(f"{i['plan_id']} ({i['kind']})" for i in summary["incomplete"])
        raise fail(
            f"rows kept moving while these plans were paged, so some may be missing: {missing};"
            " rerun the same command to page them again",
            1,
        )


class _display:
    """A rich progress bar on a terminal; plain log lines (from backfill) otherwise."""

    def __enter__(self) -> Any:
        self.bar: Any = None
        if not sys.stderr.isatty():
            return Progress()
        # Imported here: without a terminal (cron, CI) the command starts without rich.
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        self.bar = Bar(
            TextColumn("plans"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rows]} rows · {task.fields[rate]} rows/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            transient=False,
        )
        self.bar.start()
        task = self.bar.add_task("backfill", total=None, rows=0, rate="-", status="")

        def update(p: Progress) -> None:
            summary = p.summary()
            self.bar.update(
                task,
                total=p.plans_total or None,
                completed=p.plans_done,
                rows=p.rows,
                rate=summary["rows_per_s"] or "-",
                status=p.status,
            )

        return Progress(on_change=update)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command()
def reconcile(
    plan: Annotated[
        list[str] | None, typer.Option(help="Plan id (repeatable); default all.")
    ] = None,
    fix: Annotated[bool, typer.Option(help="Write the API's truth for every drifted row.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    details: Annotated[int, typer.Option(help="Drift lines to show per plan.")] = 20,
) -> None:
    """Compare the database with the BeProduct API and report drift per plan.

    Exit codes: 0 no drift (rows only newer here are not drift), or every drifted row fixed
    with --fix; 1 the API or the database failed; 2 bad options or settings; 3 drift found.
    """
    from beproduct_sync.api.reconcile import reconcile_all  # not on backfill's start-up path

    rt, open_client = _client()

    async def go() -> list[Any]:
        async with await open_client() as client:
            return await reconcile_all(rt.url, client, rt.policy.zone, plans=plan or None, fix=fix)

    try:
        reports = run(go())
    except SyncError as exc:
        raise fail(f"{exc} (nothing is half-written: rerun to try again)", 1) from None
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in reports], indent=2, default=str))
    else:
        _print_reports(reports, details, fix)
    if any(r.drifted for r in reports) and not fix:
        raise typer.Exit(3)


def _print_reports(reports: list[Any], details: int, fix: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from beproduct_sync.api.reconcile import DRIFT_KINDS, NEWER_HERE

    console = Console()
    table = Table(title="drift per plan")
    kinds = (*DRIFT_KINDS, NEWER_HERE)
    for col in ("plan", "api rows", "db rows", *kinds, *(["fixed"] if fix else [])):
        table.add_column(col, justify="left" if col == "plan" else "right")
    for r in reports:
        c = r.counts()
        table.add_row(
            r.plan_id,
            str(r.api_rows),
            str(r.db_rows),
            *(str(c.get(k, 0)) for k in kinds),
            *([str(r.fixed)] if fix else []),
        )
    console.print(table)
    for r in reports:
        for d in r.drift[:details]:
            what = ", ".join(
                f"{k}: {ours!r} → {theirs!r}" for k, (ours, theirs) in d.fields.items()
            )
            where = f"{d.entity} {d.label or d.row_id}" + (
                f" milestone {d.milestone_id}" if d.milestone_id else ""
            )
            console.print(f"  {r.plan_id} {d.kind:<17} {where} {what}")
        for kind in r.unsettled:
            console.print(
                f"  {r.plan_id} {kind} rows kept moving while paged: rows gone from BeProduct"
                " were not judged (run again)"
            )
    total = sum(len(r.drifted) for r in reports)
    newer = sum(r.counts().get(NEWER_HERE, 0) for r in reports)
    console.print(
        f"{total} drift item(s) in {sum(1 for r in reports if r.drifted)} plan(s)"
        + (f"; {newer} row(s) newer here than BeProduct's snapshot" if newer else "")
    )

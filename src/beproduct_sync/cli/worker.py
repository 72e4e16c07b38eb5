"""`beproduct-sync worker` and `beproduct-sync replay`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from typing import Annotated, Any

import typer
from prometheus_client import start_http_server

from beproduct_sync import bootstrap, db, metrics
from beproduct_sync.apply.replay import replay as do_replay
from beproduct_sync.apply.supervise import follow_parent, lower_priority
from beproduct_sync.apply.worker import worker_name
from beproduct_sync.bootstrap import Runtime
from beproduct_sync.cli.common import (
    BACKGROUND_GRACE_SECONDS,
    app,
    fail,
    finish_tasks,
    long_running,
    run,
    runtime,
)
from beproduct_sync.errors import SyncError
from beproduct_sync.inbox.requeue import Selection, parse_when
from beproduct_sync.inbox.status import REPLAYABLE, InboxStatus


class _EarlyStop:
    """SIGTERM/SIGINT received while the process is still starting (importing, migrating):
    remembered, so the process stops cleanly (exit 0) as soon as it can, instead of dying with
    the signal's default action before its handlers are in place."""

    def __init__(self) -> None:
        self.requested = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._note)

    def _note(self, signum: int, frame: object) -> None:
        self.requested = True


async def _work_until_signalled(rt: Runtime, count: int | None, early: _EarlyStop) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()

    def on_signal() -> None:
        if stop.is_set() and main is not None:  # a second signal: stop waiting for in-flight work
            main.cancel()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        # Windows has no loop signal handlers; Ctrl-C still interrupts there.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, on_signal)
    if early.requested:
        stop.set()
    # BeProduct API enrichment, when configured; it ends by itself once `stop` is set.
    enricher = bootstrap.enricher_work(rt, stop)
    # Reverse sync: change requests sent to BeProduct, when configured; ends once `stop` is set.
    sender = bootstrap.outbox_work(rt, stop, worker_name("outbox"))
    background = [asyncio.create_task(c) for c in (enricher, sender) if c is not None]
    try:
        await bootstrap.workers(rt, stop, count)
    finally:
        stop.set()
        await finish_tasks(background, BACKGROUND_GRACE_SECONDS)  # it releases its claimed jobs


def _replayable(value: str) -> InboxStatus:
    if value not in set(REPLAYABLE):
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(REPLAYABLE)}")
    return InboxStatus(value)


@app.command()
def worker(
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-w",
            min=1,
            help="Worker loops in this process (default: BEPRODUCT_SYNC_WORKERS).",
        ),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve Prometheus metrics on this port (the receiver serves its own)."),
    ] = None,
) -> None:
    """Apply stored events until SIGTERM or Ctrl-C; run as many as you like, anywhere."""
    early = _EarlyStop()
    child = follow_parent()
    rt = runtime()
    if child:
        lower_priority(rt.settings.beproduct_sync_worker_nice)
    if metrics_port:
        start_http_server(metrics_port, registry=metrics.registry())
    long_running()
    try:
        run(_work_until_signalled(rt, workers, early))
    except asyncio.CancelledError:
        raise fail(
            "stopped without finishing the events in flight (their leases will run out"
            " and another worker applies them)",
            code=130,
        ) from None


def _print_report(report: Any, *, dry_run: bool, now: bool) -> None:
    for c in report.chosen:
        received = c.received_at.strftime("%Y-%m-%d %H:%M:%S")
        line = (
            f"{c.id:>10}  {c.status:<8} {c.action or '-':<9} {c.style_number or '-':<14} {received}"
        )
        typer.echo(line + (f"  {c.last_error}" if c.last_error and dry_run else ""))
    if dry_run:
        typer.echo(f"would replay {len(report.chosen)} event(s)")
    elif now:
        counts: dict[str, int] = {}
        for o in report.outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        summary = " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        typer.echo(f"replayed {len(report.outcomes)} event(s): {summary or 'nothing to do'}")
    else:
        typer.echo(f"replayed {len(report.reset)} event(s): queued for the workers")


@app.command()
def replay(
    ids: Annotated[list[int] | None, typer.Option("--id", help="Event id (repeatable).")] = None,
    statuses: Annotated[
        list[InboxStatus] | None,
        typer.Option(
            "--status",
            parser=_replayable,
            metavar="STATUS",
            help="Only events in this status (repeatable; default: any of "
            + ", ".join(REPLAYABLE)
            + ").",
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Received at or after (ISO date/time; UTC unless it carries a zone)."),
    ] = None,
    until: Annotated[str | None, typer.Option(help="Received before (same form).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List, change nothing.")] = False,
    now: Annotated[
        bool,
        typer.Option(
            "--now", help="Apply them in this process instead of leaving them to the workers."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Send dead (or any settled) events back to the queue; attempts start again."""
    try:
        selection = Selection(
            ids=tuple(ids or ()),
            statuses=tuple(s.value for s in statuses or ()),
            since=parse_when(since) if since else None,
            until=parse_when(until) if until else None,
        )
    except SyncError as exc:
        raise fail(str(exc)) from None
    rt = runtime()

    async def go() -> Any:
        async with await db.aconnect(
            rt.url, autocommit=True, application_name="beproduct-sync replay"
        ) as conn:
            return await do_replay(
                conn,
                selection,
                rt.policy,
                dry_run=dry_run,
                now=now,
                lease_seconds=rt.settings.beproduct_sync_lease_seconds,
            )

    try:
        report = run(go())
    except SyncError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "dry_run": dry_run,
                    "chosen": [
                        {
                            "id": c.id,
                            "status": c.status,
                            "action": c.action,
                            "style_number": c.style_number,
                            "received_at": c.received_at.isoformat(),
                            "attempts": c.attempts,
                            "last_error": c.last_error,
                        }
                        for c in report.chosen
                    ],
                    "reset": report.reset,
                    "outcomes": [
                        {"id": o.log_id, "status": o.status, "error": o.error}
                        for o in report.outcomes
                    ],
                    "missing_ids": report.missing_ids,
                },
                indent=2,
            )
        )
    else:
        _print_report(report, dry_run=dry_run, now=now)
    if report.missing_ids:
        typer.echo(
            "not replayable (no such event, or still queued): "
            + ", ".join(map(str, report.missing_ids)),
            err=True,
        )
    if report.missing_ids or any(
        o.status in (InboxStatus.FAILED, InboxStatus.DEAD) for o in report.outcomes
    ):
        raise typer.Exit(1)

"""What every command shares: the typer app, readable failures, settings, the runtime, running
coroutines, and ending background tasks."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Coroutine, Sequence
from typing import Annotated, Any, TypeVar

import structlog
import typer
from pydantic import ValidationError

from beproduct_sync import __version__
from beproduct_sync.bootstrap import Runtime, build
from beproduct_sync.config import Settings
from beproduct_sync.errors import SyncError
from beproduct_sync.logs import configure

log = structlog.get_logger("beproduct_sync.cli")

# On shutdown the enricher and the reconciler finish their current batch or pass for this long,
# then are cancelled (a reconcile pass over many plans may take minutes; each plan's fix is its
# own transaction, so cancelling is safe).
BACKGROUND_GRACE_SECONDS = 10.0

app = typer.Typer(
    name="beproduct-sync",
    help="Keep a PostgreSQL ops schema in step with BeProduct tracking webhooks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

T = TypeVar("T")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"beproduct-sync {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Keep a PostgreSQL ops schema in step with BeProduct tracking webhooks."""


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a one-line error for a person and return the exit to raise."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def load_settings() -> Settings:
    """Settings from the environment, or a readable exit."""
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]).upper()
        raise fail(f"configuration {name}: {first['msg']}") from None
    configure(settings.beproduct_sync_log_level, settings.beproduct_sync_log_format)
    return settings


def runtime(*, migrate: bool | None = None) -> Runtime:
    """Settings + database, or a readable exit."""
    settings = load_settings()
    try:
        return build(settings, migrate=migrate)
    except SyncError as exc:
        raise fail(str(exc)) from None


# Collect cyclic garbage after 10,000 net allocations rather than 700. Applying an event
# allocates thousands of short-lived objects (decoded JSON, models, rows), nearly all freed by
# reference counting alone; at the default threshold the collector ran every few events and
# walked the whole heap often enough to take about a fifth of a worker's CPU.
GC_THRESHOLDS = (10_000, 10, 10)


def long_running(thresholds: tuple[int, int, int] = GC_THRESHOLDS) -> None:
    """Set up the garbage collector for `serve`, `worker` and a backfill pass: what start-up
    built (modules, models, settings) lives as long as the process and is frozen out of every
    collection, and collections run `thresholds` apart."""
    gc.freeze()
    gc.set_threshold(*thresholds)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; psycopg's async mode needs the selector loop on Windows."""
    if sys.platform == "win32":  # pragma: no cover
        asyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy())  # type: ignore[attr-defined]
    return asyncio.run(coro)


async def finish_tasks(tasks: Sequence[asyncio.Future[None]], timeout: float) -> None:
    """Wait for tasks that end by themselves; cancel those still running after `timeout`.

    Waiting matters for the enricher: it releases the jobs it claimed when its batch ends,
    whereas a task cancelled mid-batch leaves them claimed until their lease runs out.
    """
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for t in pending:
        name = t.get_name() if isinstance(t, asyncio.Task) else None
        log.warning("background_task_cancelled", task=name, after_s=timeout)
        t.cancel()
    for outcome in await asyncio.gather(*tasks, return_exceptions=True):
        if isinstance(outcome, Exception):
            log.error("background_task_failed", error=type(outcome).__name__)

"""The `beproduct-sync` command. Thin: parse arguments, build the runtime, call the modules.

Command groups live beside this file (`commands_*.py`) and register themselves on `app`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from beproduct_sync import db
from beproduct_sync.bootstrap import Runtime, build
from beproduct_sync.config import Settings
from beproduct_sync.errors import SyncError
from beproduct_sync.logs import configure

app = typer.Typer(
    name="beproduct-sync",
    help="Keep a PostgreSQL ops schema in step with BeProduct tracking webhooks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

T = TypeVar("T")


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


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; psycopg's async mode needs the selector loop on Windows."""
    if sys.platform == "win32":  # pragma: no cover
        asyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy())  # type: ignore[attr-defined]
    return asyncio.run(coro)


@app.command()
def migrate() -> None:
    """Apply pending database migrations (safe to run any number of times)."""
    rt = runtime(migrate=False)
    try:
        applied = db.migrate(rt.url)
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
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    errors: Annotated[int, typer.Option(help="How many recent errors to show.")] = 10,
) -> None:
    """Counts of events per status, queue depth and the most recent errors."""
    from beproduct_sync.inbox.report import gather

    rt = runtime()
    try:
        report = run(gather(rt.url, errors))
    except SyncError as exc:
        raise fail(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    typer.echo("events by status:")
    for name, count in report["counts"].items():
        typer.echo(f"  {name:<10} {count}")
    typer.echo(f"queue depth: {report['queue_depth']}")
    for extra, value in report.get("extra", {}).items():
        typer.echo(f"{extra}: {value}")
    if report["recent_errors"]:
        typer.echo("recent errors:")
        for e in report["recent_errors"]:
            typer.echo(
                f"  {e['created_at']} {e['severity']:<7} {e['entity_id'] or '-'}"
                f" (event {e['sync_log_id']}): {e['message']}"
            )


# Modules that add commands to `app` (imported for their side effect, in this order).
COMMAND_MODULES: tuple[str, ...] = (
    "serve",
    "worker",
    "fake",
    "api",
)


def main() -> None:
    """Console entry point."""
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}")
    app()

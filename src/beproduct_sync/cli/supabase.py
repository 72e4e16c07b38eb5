"""`beproduct-sync supabase export`: the migrations as files of your own Supabase project."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from beproduct_sync import __version__, migrations
from beproduct_sync.cli.common import app, fail
from beproduct_sync.errors import SyncError
from beproduct_sync.migrations.export import export as write_files

supabase_app = typer.Typer(
    help="Deploy next to a Supabase project: its migrations, applied by `supabase db push`.",
    no_args_is_help=True,
)
app.add_typer(supabase_app, name="supabase")


@supabase_app.command()
def export(
    folder: Annotated[
        Path,
        typer.Option("--dir", help="Your Supabase project's migrations folder."),
    ] = Path("supabase/migrations"),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be written; write nothing.")
    ] = False,
) -> None:
    """Write the migrations not yet exported into your project, for `supabase db push`."""
    if not folder.is_dir():
        if not folder.parent.is_dir():
            raise fail(
                f"no such directory: {folder.parent} (run this in your Supabase project, where"
                " `supabase init` made supabase/, or pass --dir)"
            )
        if not dry_run:
            folder.mkdir()
    try:
        written = write_files(folder, migrations.bundled(), datetime.now(UTC), dry_run=dry_run)
    except SyncError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"cannot write in {folder}: {exc.strerror}") from None
    if not written:
        typer.echo(
            f"nothing to export: {folder} has every migration of beproduct-sync {__version__}"
        )
        return
    for item in written:
        typer.echo(f"{'would write' if dry_run else 'wrote'} {item.path}")
    if not dry_run:
        typer.echo(
            "next: `supabase db push` applies them (`--remote` for the linked project; commit"
            " them with your project's other migrations); beproduct-sync then counts them as"
            " applied and records them in ops.schema_migrations"
        )

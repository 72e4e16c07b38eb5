"""The bundled migrations as migrations of a user's own Supabase project.

`beproduct-sync supabase export` writes each migration not exported yet into the project's
`supabase/migrations` as `<timestamp>_beproduct_sync_<version>_<name>.sql`: the fixed header
and the migration's SQL, exactly (history.exported_text). The timestamps are later than now and
than the newest file there, one second apart, so `supabase db push` applies them after the
project's own migrations without `--include-all`. A file exported earlier is left alone, and an
edited one is refused: what was pushed must stay recognisable (see history.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Generic

from beproduct_sync.errors import MigrationChanged
from beproduct_sync.migrations.history import M, content_key, exported_name, exported_text

STAMP = "%Y%m%d%H%M%S"
_MIGRATION_FILE = re.compile(r"(?P<version>\d+)_(?P<name>.+)\.sql")


@dataclass(frozen=True)
class Exported(Generic[M]):
    """A migration and the file it is (or would be) written to."""

    migration: M
    path: Path


def export(
    folder: Path, bundled: Sequence[M], now: datetime, *, dry_run: bool = False
) -> list[Exported[M]]:
    """Write the migrations of `bundled` that `folder` lacks; returns what was written (or,
    with `dry_run`, would be). MigrationChanged when an exported file was edited."""
    present = _present(folder, bundled)
    todo = [m for m in bundled if m.version not in present]
    stamp = _first_stamp(folder, now)
    planned = [
        Exported(
            m, folder / f"{(stamp + timedelta(seconds=i)).strftime(STAMP)}_{exported_name(m)}.sql"
        )
        for i, m in enumerate(todo)
    ]
    if not dry_run:
        for item in planned:
            # "x": never overwrite; bytes: the exact text, whatever the platform's newlines.
            with item.path.open("xb") as out:
                out.write(exported_text(item.migration).encode())
    return planned


def _files(folder: Path) -> list[tuple[Path, re.Match[str]]]:
    if not folder.is_dir():
        return []
    found = ((p, _MIGRATION_FILE.fullmatch(p.name)) for p in sorted(folder.iterdir()))
    return [(p, match) for p, match in found if match is not None and p.is_file()]


def _present(folder: Path, bundled: Sequence[M]) -> set[str]:
    """Versions of `bundled` already in `folder`: exported, or the bundled file copied as is."""
    present: set[str] = set()
    for path, match in _files(folder):
        for m in bundled:
            exported = match["name"] == exported_name(m)
            if not exported and (match["version"], match["name"]) != (m.version, m.name):
                continue
            if content_key(path.read_text()) not in {
                content_key(exported_text(m)),
                content_key(m.sql),
            }:
                raise MigrationChanged(
                    f"{path} was edited after it was exported; restore what `beproduct-sync"
                    " supabase export` wrote (it must stay recognisable once pushed), or, if it"
                    " was never pushed, delete it and export again"
                )
            present.add(m.version)
    return present


def _first_stamp(folder: Path, now: datetime) -> datetime:
    """One second after the later of now and the newest migration in `folder`."""
    latest = now.astimezone(UTC).replace(microsecond=0, tzinfo=None)
    for _, match in _files(folder):
        try:
            latest = max(latest, datetime.strptime(match["version"], STAMP))
        except ValueError:
            continue  # not a timestamp (Supabase allows any number): nothing to be later than
    return latest + timedelta(seconds=1)

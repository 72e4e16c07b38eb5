"""Which bundled migrations are applied, by either of two histories: ours
(`ops.schema_migrations`) and Supabase's (`supabase_migrations.schema_migrations`, written by
`supabase db push` from the files `beproduct-sync supabase export` puts in a user's project).

A migration pushed by the Supabase CLI is recognised by its content: the CLI records a file as
its statements (split on `;` outside quotes, comments and dollar quotes, each trimmed, empty ones
dropped), so once white space and semicolons are removed the file and the record are the same
text (`content_key`). An exported file is the migration's SQL behind a fixed header
(`exported_text`), so either text may be recorded.

`plan` decides, for each bundled migration in version order:
- in our history: its stored checksum must be the file's. A different checksum with the same
  content key (only white space or semicolons differ) is accepted, with a note to log; anything
  else is MigrationChanged;
- else in Supabase's history by content key: applied by `supabase db push`; it is recorded in
  ours (source `supabase`) and never run again;
- else Supabase's history holds it under its exported name with other content: the exported
  file was edited before it was pushed, MigrationChanged;
- else it is to run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from beproduct_sync.errors import MigrationChanged, MissingPrivilege
from beproduct_sync.sql import query

OURS = "beproduct-sync"  # ops.schema_migrations.source: applied by `migrate`
SUPABASE = "supabase"  # … found applied in Supabase's history by content

HEADER = """\
-- beproduct-sync migration {version}_{name}
-- Written by `beproduct-sync supabase export`. Do not edit it: beproduct-sync checks that
-- what `supabase db push` applied is this migration. New versions of beproduct-sync add new
-- files: run `beproduct-sync supabase export` again after upgrading.

"""

_NOT_THERE = (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName)
_IGNORED = re.compile(r"[\s;]+")


class Bundled(Protocol):
    """A migration shipped with the package (migrations.Migration)."""

    @property
    def version(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def sql(self) -> str: ...
    @property
    def checksum(self) -> str: ...


M = TypeVar("M", bound=Bundled)


def content_key(text: str) -> str:
    """SHA-256 of `text` without white space and semicolons: equal for a migration file and
    the statements `supabase db push` recorded for it."""
    return hashlib.sha256(_IGNORED.sub("", text).encode()).hexdigest()


def exported_name(m: Bundled) -> str:
    """The name part of an exported file (after its `<timestamp>_`), as Supabase records it."""
    return f"beproduct_sync_{m.version}_{m.name}"


def exported_text(m: Bundled) -> str:
    """An exported file's content: the fixed header, then the migration exactly."""
    return HEADER.format(version=m.version, name=m.name) + m.sql


def keys_of(m: Bundled) -> frozenset[str]:
    """The content keys under which Supabase's history may hold `m`."""
    return frozenset({content_key(m.sql), content_key(exported_text(m))})


@dataclass(frozen=True)
class Recorded:
    """A row of ops.schema_migrations (content_key is NULL in rows older than it)."""

    version: str
    name: str
    checksum: str
    content_key: str | None = None
    source: str = OURS


@dataclass(frozen=True)
class Pushed:
    """A row of supabase_migrations.schema_migrations."""

    version: str
    name: str | None
    statements: list[str] | None

    @property
    def content_key(self) -> str:
        """The key of what the Supabase CLI applied."""
        return content_key("".join(self.statements or ()))


@dataclass(frozen=True)
class Histories:
    """Both histories as read; `theirs_unreadable` says why Supabase's could not be read."""

    ours: dict[str, Recorded] = field(default_factory=dict)
    theirs: list[Pushed] = field(default_factory=list)
    theirs_unreadable: str | None = None


@dataclass(frozen=True)
class Step(Generic[M]):
    """One thing to do: run a migration, or only record one Supabase applied."""

    migration: M
    run: bool


@dataclass(frozen=True)
class Plan(Generic[M]):
    """What plan() found: the steps in version order, and differences it accepted."""

    steps: list[Step[M]]
    notes: list[str]

    @property
    def to_run(self) -> list[M]:
        """Migrations applied by neither history."""
        return [s.migration for s in self.steps if s.run]


def plan(bundled: Sequence[M], found: Histories) -> Plan[M]:
    """The steps that make `found` record every bundled migration (see the module doc)."""
    steps: list[Step[M]] = []
    notes: list[str] = []
    pushed = {p.content_key for p in found.theirs}
    for m in bundled:
        label = f"{m.version}_{m.name}"
        mine = found.ours.get(m.version)
        if mine is not None:
            if mine.checksum == m.checksum:
                continue
            if mine.content_key == content_key(m.sql):
                notes.append(f"migration {label}: applied text differs only in white space")
                continue
            raise MigrationChanged(
                f"migration {label} differs from the one recorded as applied in"
                " ops.schema_migrations: released migrations are never edited; install the"
                " beproduct-sync version that applied it (or restore the file if it was changed)"
            )
        if keys_of(m) & pushed:
            steps.append(Step(m, run=False))
            continue
        edited = [p for p in found.theirs if _same_identity(p, m)]
        if edited:
            file = f"{edited[0].version}_{edited[0].name}.sql"
            raise MigrationChanged(
                f"supabase/migrations/{file} was edited after it was exported (Supabase's"
                f" migration history holds other content for {label}): delete that file, run"
                f" `supabase migration repair --status reverted {edited[0].version}`, then"
                " `beproduct-sync supabase export` and `supabase db push`"
            )
        steps.append(Step(m, run=True))
    return Plan(steps, notes)


def _same_identity(p: Pushed, m: Bundled) -> bool:
    """Supabase's record is of `m`: an exported file of it, or the bundled file itself."""
    return p.name == exported_name(m) or (p.version, p.name) == (m.version, m.name)


# --- reading and writing, on an autocommit connection --------------------------------------


def read(conn: psycopg.Connection[Any]) -> Histories:
    """Both histories, with SELECTs only; a history not created yet is empty. Each SELECT runs
    in its own (sub)transaction, so a missing table does not abort the caller's transaction."""
    try:
        with conn.transaction():
            ours = conn.cursor(row_factory=class_row(Recorded)).execute(query("history_ours"))
            rows = {r.version: r for r in ours.fetchall()}
    except _NOT_THERE:
        rows = {}
    try:
        with conn.transaction():
            theirs = conn.cursor(row_factory=class_row(Pushed)).execute(query("history_supabase"))
            return Histories(rows, theirs.fetchall())
    except _NOT_THERE:
        return Histories(rows)
    except MissingPrivilege as exc:
        return Histories(rows, theirs_unreadable=str(exc))


async def aread(conn: psycopg.AsyncConnection[Any]) -> Histories:
    """Async twin of read()."""
    try:
        ours = conn.cursor(row_factory=class_row(Recorded))
        rows = {r.version: r for r in await (await ours.execute(query("history_ours"))).fetchall()}
    except _NOT_THERE:
        rows = {}
    try:
        theirs = conn.cursor(row_factory=class_row(Pushed))
        return Histories(rows, await (await theirs.execute(query("history_supabase"))).fetchall())
    except _NOT_THERE:
        return Histories(rows)
    except MissingPrivilege as exc:
        return Histories(rows, theirs_unreadable=str(exc))


def prepare(conn: psycopg.Connection[Any]) -> None:
    """Create our history table, or bring an older one up to date (the owner's DDL)."""
    conn.execute(query("history_prepare").encode())


def record(conn: psycopg.Connection[Any], m: Bundled, source: str = OURS) -> None:
    """Record `m` as applied (by `migrate`, or by `supabase db push` for SUPABASE)."""
    conn.execute(
        query("history_record"),
        {
            "version": m.version,
            "name": m.name,
            "checksum": m.checksum,
            "content_key": content_key(m.sql),
            "source": source,
        },
    )


def fill_keys(conn: psycopg.Connection[Any], bundled: Sequence[Bundled]) -> None:
    """Give rows recorded before content keys existed the key of their (unchanged) file."""
    rows = [
        {"version": m.version, "checksum": m.checksum, "content_key": content_key(m.sql)}
        for m in bundled
    ]
    conn.execute(query("history_fill_keys"), {"rows": Jsonb(rows)})

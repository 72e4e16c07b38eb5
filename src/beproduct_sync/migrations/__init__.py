"""Numbered SQL migrations: the `.sql` files beside this module, and the migrator.

File names are Supabase's (`<14-digit version>_<name>.sql`). Each runs in its own transaction and
is recorded in `ops.schema_migrations` with a checksum of its text. Migrations a Supabase project
applied with `supabase db push` (from files `beproduct-sync supabase export` wrote) are
recognised in Supabase's history and only recorded (see history.py). Both histories are read
first: with nothing pending, nothing is changed and no lock is taken. A session advisory lock
lets one migrator run at a time across processes.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import cache
from importlib import resources

from beproduct_sync import db
from beproduct_sync.migrations import history

log = logging.getLogger(__name__)

LOCK = 0x6265_7072_6F64  # "beprod": one migrator at a time, across processes


@dataclass(frozen=True)
class Migration:
    """One numbered SQL file."""

    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file, to notice a released migration that was edited."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


@cache
def bundled() -> tuple[Migration, ...]:
    """All migrations shipped with the package, in version order."""
    found = []
    for entry in resources.files(__name__).iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append(Migration(version, rest.removesuffix(".sql"), entry.read_text()))
    return tuple(sorted(found, key=lambda m: m.version))


def pending(found: history.Histories) -> list[Migration]:
    """The bundled migrations applied by neither history, in order (MigrationChanged when an
    applied one differs from its file)."""
    return history.plan(bundled(), found).to_run


def migrate(url: str) -> list[str]:
    """Apply pending migrations (each in its own transaction) and record those `supabase db
    push` applied; returns the versions applied here."""
    done: list[str] = []
    with db.connect(url, autocommit=True) as conn:
        first = history.plan(bundled(), history.read(conn))
        for note in first.notes:
            log.info(note)
        if not first.steps:
            return done  # SELECTs only: a role that may not change the schema starts too
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK,))
        try:
            history.prepare(conn)
            todo = history.plan(bundled(), history.read(conn))  # another migrator may be done
            for step in todo.steps:
                m = step.migration
                if not step.run:
                    history.record(conn, m, history.SUPABASE)
                    log.info(
                        "recorded migration %s_%s: applied by supabase db push", m.version, m.name
                    )
                    continue
                with conn.transaction():
                    conn.execute(m.sql.encode())
                    history.record(conn, m)
                log.info("applied migration %s_%s", m.version, m.name)
                done.append(m.version)
            history.fill_keys(conn, bundled())
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK,))
    return done

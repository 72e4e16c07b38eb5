"""Numbered SQL migrations: the `.sql` files beside this module, and the migrator.

File names are Supabase's (`<14-digit version>_<name>.sql`). Each runs in its own transaction and
is recorded in `ops.schema_migrations` with a checksum of its text. Migrations a Supabase project
applied with `supabase db push` (from files `beproduct-sync supabase export` wrote) are
recognised in Supabase's history and only recorded (see history.py). Both histories are read
first, without a lock: with nothing pending, nothing is changed and no lock is taken. Otherwise
each migration's transaction takes a transaction-scoped advisory lock (waiting at most
BEPRODUCT_SYNC_MIGRATE_LOCK_TIMEOUT_SECONDS, then failing with MigrationBusy) and plans again
under it, so concurrent migrators apply each migration once. No session-level lock is ever
taken: those are unsafe behind transaction-mode poolers (see _lock).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import psycopg

from beproduct_sync import db
from beproduct_sync.errors import MigrationBusy
from beproduct_sync.migrations import history

log = logging.getLogger(__name__)

LOCK = 0x6265_7072_6F64  # "beprod": one migrator at a time, across processes
LOCK_TIMEOUT_SECONDS = 30.0  # default wait for another migrator (see _lock)


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


def migrate(url: str, lock_timeout: float = LOCK_TIMEOUT_SECONDS) -> list[str]:
    """Apply pending migrations (each in its own transaction) and record those `supabase db
    push` applied; returns the versions applied here. MigrationBusy when another migrator
    holds the lock for longer than `lock_timeout` seconds."""
    done: list[str] = []
    with db.connect(url, autocommit=True) as conn:
        first = history.plan(bundled(), history.read(conn))
        for note in first.notes:
            log.info(note)
        if not first.steps:
            return done  # SELECTs only: a role that may not change the schema starts too
        handled: set[str] = set()  # each migration at most once per run, whatever happens
        while True:
            with conn.transaction():
                _lock(conn, lock_timeout)
                history.prepare(conn)
                # Planned again under the lock: another migrator may have done some or all.
                todo = history.plan(bundled(), history.read(conn))
                steps = [s for s in todo.steps if s.migration.version not in handled]
                if not steps:
                    history.fill_keys(conn, bundled())
                    return done
                step = steps[0]
                handled.add(step.migration.version)
                m = step.migration
                if step.run:
                    conn.execute(m.sql.encode())
                    history.record(conn, m)
                else:
                    history.record(conn, m, history.SUPABASE)
            if step.run:
                log.info("applied migration %s_%s", m.version, m.name)
                done.append(m.version)
            else:
                log.info("recorded migration %s_%s: applied by supabase db push", m.version, m.name)


def _lock(conn: psycopg.Connection[Any], timeout: float) -> None:
    """Take the migrators' lock for this transaction, waiting at most `timeout` seconds.

    Transaction-scoped on purpose: behind a transaction-mode pooler (pgbouncer, Supabase's port
    6543) consecutive statements outside a transaction may run on different server
    connections, so a session lock's unlock can miss and leave the lock held on a pooled
    connection for good, and every later start would wait forever. A transaction's statements
    share one server connection, and the lock ends with the transaction whatever happens.
    """
    conn.execute(f"SET LOCAL lock_timeout = {max(1, round(timeout * 1000))}")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
    except psycopg.errors.LockNotAvailable:
        raise MigrationBusy(
            f"another process has been applying migrations for more than {timeout:g} s"
            " (BEPRODUCT_SYNC_MIGRATE_LOCK_TIMEOUT_SECONDS); start again once it has finished"
        ) from None
    conn.execute("SET LOCAL lock_timeout = DEFAULT")  # the migrations' own locks wait as usual

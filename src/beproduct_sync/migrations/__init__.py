"""Numbered SQL migrations: the `.sql` files beside this module, and the migrator.

File names are Supabase's (`<14-digit version>_<name>.sql`), so `supabase db push` can apply them
too. Each runs in its own transaction and is recorded in `ops.schema_migrations` with a checksum
of its text. A session advisory lock lets one migrator run at a time across processes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from psycopg.rows import scalar_row

from beproduct_sync import db

log = logging.getLogger(__name__)

LOCK = 0x6265_7072_6F64  # "beprod": one migrator at a time, across processes
# The versions already applied; fails with UndefinedTable before the first migration.
APPLIED = "SELECT version FROM ops.schema_migrations"
_BOOKKEEPING = (
    "CREATE SCHEMA IF NOT EXISTS ops",
    "CREATE TABLE IF NOT EXISTS ops.schema_migrations ("
    " version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())",
)


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


def pending(applied: Iterable[str]) -> list[Migration]:
    """The bundled migrations not among the `applied` versions, in order."""
    done = set(applied)
    return [m for m in bundled() if m.version not in done]


def migrate(url: str) -> list[str]:
    """Apply pending migrations (each in its own transaction); returns the versions applied."""
    done = []
    with db.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK,))
        try:
            for statement in _BOOKKEEPING:
                conn.execute(statement)
            applied = conn.cursor(row_factory=scalar_row).execute(APPLIED).fetchall()
            for m in pending(applied):
                with conn.transaction():
                    conn.execute(m.sql.encode())
                    conn.execute(
                        "INSERT INTO ops.schema_migrations (version, name, checksum)"
                        " VALUES (%s, %s, %s)",
                        (m.version, m.name, m.checksum),
                    )
                log.info("applied migration %s_%s", m.version, m.name)
                done.append(m.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK,))
    return done

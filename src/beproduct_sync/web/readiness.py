"""Readiness: every migration applied (by `beproduct-sync migrate` or by `supabase db push`),
and the service's database role holding every privilege the service uses."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row

from beproduct_sync import db, migrations
from beproduct_sync.errors import MigrationChanged, MissingPrivilege
from beproduct_sync.migrations import history
from beproduct_sync.sql import query

# Privileges change rarely; a probe every few seconds need not ask each time.
PRIVILEGE_CHECK_SECONDS = 30.0


@dataclass(frozen=True)
class Missing:
    """A privilege the current role lacks."""

    role: str
    missing: str


@dataclass
class Privileges:
    """The last privilege check, reused for PRIVILEGE_CHECK_SECONDS."""

    checked_at: float | None = None
    missing: list[Missing] = field(default_factory=list)

    async def lacking(self, conn: AsyncConnection[Any]) -> list[Missing]:
        """What the role lacks, asked at most once per PRIVILEGE_CHECK_SECONDS."""
        now = time.monotonic()
        if self.checked_at is None or now - self.checked_at >= PRIVILEGE_CHECK_SECONDS:
            cur = conn.cursor(row_factory=class_row(Missing))
            self.missing = await (await cur.execute(query("service_privileges_missing"))).fetchall()
            self.checked_at = now
        return self.missing


async def problem(conn: AsyncConnection[Any], privileges: Privileges) -> tuple[str, str] | None:
    """Why the service is not ready, as (error code, message), or None when it is."""
    try:
        found = await history.aread(conn)
        pending = migrations.pending(found)
    except MigrationChanged as exc:
        return "migration_changed", str(exc)
    except MissingPrivilege as exc:
        return "missing_privileges", str(exc)
    if pending:
        unreadable = (
            " (Supabase's migration history is not readable by this role)"
            if found.theirs_unreadable
            else ""
        )
        return (
            "migrations_pending",
            f"{len(pending)} migration(s) not applied; run `beproduct-sync migrate`{unreadable}",
        )
    lacking = await privileges.lacking(conn)
    if lacking:
        shown = ", ".join(m.missing for m in lacking[:3])
        more = f" and {len(lacking) - 3} more" if len(lacking) > 3 else ""
        role = db.role_name(lacking[0].role)
        return (
            "missing_privileges",
            f"database role {role} lacks {shown}{more}: {db.grant_advice(role)}",
        )
    return None

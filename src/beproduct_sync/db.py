"""Database plumbing: where the database is (URL or embedded server), connections, migrations."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg.types.json import set_json_dumps, set_json_loads

from beproduct_sync.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

# One fast JSON codec for every jsonb parameter and result.
set_json_dumps(orjson.dumps)
set_json_loads(orjson.loads)

MIGRATION_LOCK = 0x6265_7072_6F64  # "beprod": one migrator at a time, across processes

_embedded: dict[Path, Any] = {}


def embedded_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL kept in `data_dir` and return its URL."""
    import warnings

    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        import pgserver  # heavy import; only when no DATABASE_URL is given
    logging.getLogger("pgserver").setLevel(logging.WARNING)

    pgdata = (data_dir / "pgdata").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if pgdata not in _embedded:
        # 'stop' shuts the server down once the last process using it exits.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _embedded[pgdata] = pgserver.get_server(  # type: ignore[attr-defined]
                pgdata, cleanup_mode="stop"
            )
    uri: str = _embedded[pgdata].get_uri()
    return uri


def stop_embedded(data_dir: Path) -> None:
    """Stop the embedded server of `data_dir` if this process started or joined it."""
    server = _embedded.pop((data_dir / "pgdata").resolve(), None)
    if server is not None:
        server.cleanup()


def resolve_url(database_url: str | None, data_dir: Path) -> str:
    """The URL to use: DATABASE_URL when given, else the embedded server's."""
    return database_url or embedded_url(data_dir)


def connect(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A connection that works through transaction-mode poolers (no server-side prepares)."""
    try:
        return psycopg.connect(url, prepare_threshold=None, **kwargs)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable() from exc


async def aconnect(url: str, **kwargs: Any) -> psycopg.AsyncConnection[Any]:
    """Async twin of connect()."""
    try:
        return await psycopg.AsyncConnection.connect(url, prepare_threshold=None, **kwargs)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable() from exc


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


def migrations() -> list[Migration]:
    """All bundled migrations in version order."""
    found = []
    for entry in resources.files("beproduct_sync.migrations").iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append(Migration(version, rest.removesuffix(".sql"), entry.read_text()))
    return sorted(found, key=lambda m: m.version)


def _migrations_iter(conn: psycopg.Connection[Any]) -> Iterator[Migration]:
    conn.execute("CREATE SCHEMA IF NOT EXISTS ops")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS ops.schema_migrations ("
        " version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    done = {r[0] for r in conn.execute("SELECT version FROM ops.schema_migrations")}
    for m in migrations():
        if m.version not in done:
            yield m


def migrate(url: str) -> list[str]:
    """Apply pending migrations (each in its own transaction); returns the versions applied."""
    applied = []
    with connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            for m in list(_migrations_iter(conn)):
                with conn.transaction():
                    conn.execute(m.sql.encode())
                    conn.execute(
                        "INSERT INTO ops.schema_migrations (version, name, checksum)"
                        " VALUES (%s, %s, %s)",
                        (m.version, m.name, m.checksum),
                    )
                log.info("applied migration %s_%s", m.version, m.name)
                applied.append(m.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied


def pending_migrations(conn: psycopg.Connection[Any]) -> list[str]:
    """Versions not yet applied (used by readiness checks)."""
    row = conn.execute("SELECT to_regclass('ops.schema_migrations')").fetchone()
    if row is None or row[0] is None:
        return [m.version for m in migrations()]
    done = {r[0] for r in conn.execute("SELECT version FROM ops.schema_migrations")}
    return [m.version for m in migrations() if m.version not in done]


def env_database_url() -> str | None:
    """DATABASE_URL from the environment, treating an empty value as unset."""
    return os.environ.get("DATABASE_URL") or None


async def apending_migrations(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """Async twin of pending_migrations() (the web readiness check)."""
    cur = await conn.execute("SELECT to_regclass('ops.schema_migrations')")
    row = await cur.fetchone()
    if row is None or row[0] is None:
        return [m.version for m in migrations()]
    cur = await conn.execute("SELECT version FROM ops.schema_migrations")
    done = {r[0] for r in await cur.fetchall()}
    return [m.version for m in migrations() if m.version not in done]

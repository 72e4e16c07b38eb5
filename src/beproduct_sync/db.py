"""Database plumbing: where the database is (URL or embedded server), connections, and driver
errors translated once, at this boundary, into readable one-line reasons."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg.types.json import set_json_dumps, set_json_loads

from beproduct_sync.errors import DatabaseUnavailable, EmbeddedNotInstalled, SyncError

log = logging.getLogger(__name__)

# One fast JSON codec for every jsonb parameter and result.
set_json_dumps(orjson.dumps)
set_json_loads(orjson.loads)

_embedded: dict[Path, Any] = {}


def embedded_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL kept in `data_dir` and return its URL.

    `pgserver` is imported here, not at the top: it is an optional extra (`embedded`), only
    needed without a DATABASE_URL, and its import costs the other commands' start-up time.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        try:
            import pgserver  # heavy, optional; only when no DATABASE_URL is given
        except ImportError:
            raise EmbeddedNotInstalled() from None
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


def env_database_url() -> str | None:
    """DATABASE_URL from the environment, treating an empty value as unset."""
    return os.environ.get("DATABASE_URL") or None


def describe_error(exc: BaseException) -> str:
    """A readable one-line reason for logs and ops.import_errors: no SQL, no stack trace."""
    if isinstance(exc, psycopg.Error):
        diag = exc.diag
        state = diag.sqlstate or "unknown"
        primary = diag.message_primary or type(exc).__name__
        detail = f" ({diag.message_detail})" if diag.message_detail else ""
        return f"database error {state}: {primary}{detail}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def is_outage(exc: BaseException) -> bool:
    """True for failures of something outside the process (database, network, BeProduct), which
    a retry may cure; False for bugs."""
    return isinstance(exc, psycopg.Error | SyncError | OSError)

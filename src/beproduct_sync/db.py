"""Database plumbing: where the database is (URL or embedded server), connections, and driver
errors translated once, at this boundary, into readable one-line reasons: a refused statement
(missing privilege) becomes MissingPrivilege in the cursors every connection here uses."""

from __future__ import annotations

import fcntl
import logging
import os
import re
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Self

import orjson
import psycopg
from psycopg import sql
from psycopg.abc import Params, QueryNoTemplate
from psycopg.rows import Row
from psycopg.types.json import set_json_dumps, set_json_loads

from beproduct_sync.errors import (
    DatabaseUnavailable,
    EmbeddedNotInstalled,
    MissingPrivilege,
    SyncError,
)

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
        # 'stop' shuts the server down once the last process using it exits. Starts are
        # serialised machine-wide: run as root, pgserver creates its system user with `useradd`,
        # and two first starts at once (parallel tests, two commands) race on that user.
        with machine_lock("beproduct-sync-embedded.lock"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _embedded[pgdata] = pgserver.get_server(  # type: ignore[attr-defined]
                pgdata, cleanup_mode="stop"
            )
    uri: str = _embedded[pgdata].get_uri()
    return uri


@contextmanager
def machine_lock(name: str) -> Iterator[None]:
    """An exclusive lock on a file in the temp directory, held for the block (POSIX flock):
    serialises something across every process of the machine."""
    with open(Path(tempfile.gettempdir()) / name, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def stop_embedded(data_dir: Path) -> None:
    """Stop the embedded server of `data_dir` if this process started or joined it."""
    server = _embedded.pop((data_dir / "pgdata").resolve(), None)
    if server is not None:
        server.cleanup()


def resolve_url(database_url: str | None, data_dir: Path) -> str:
    """The URL to use: DATABASE_URL when given, else the embedded server's."""
    return database_url or embedded_url(data_dir)


# --- missing privileges, translated where every statement passes: the cursors -------------

_DML = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE"})
_DDL = frozenset({"CREATE", "ALTER", "DROP", "GRANT", "REVOKE", "COMMENT", "TRUNCATE", "DO"})
_TOKENS = re.compile(r"[A-Za-z_]+|[()]")
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_PLAIN_ROLE = re.compile(r"[a-z_][a-z0-9_$]*")
_DENIED_ON = re.compile(r"permission denied for (?:table|relation|view|sequence) \"?([\w$]+)")


def statement_verb(text: str) -> str:
    """The command of an SQL statement (`UPDATE` for `WITH … UPDATE`), upper case."""
    tokens = _TOKENS.findall(_COMMENTS.sub(" ", text))
    if not tokens:
        return ""
    first = str(tokens[0]).upper()
    if first != "WITH":
        return first
    depth = 0
    for token in map(str, tokens[1:]):
        depth += {"(": 1, ")": -1}.get(token, 0)
        if depth == 0 and token.upper() in _DML:
            return token.upper()
    return first


def missing_privilege(exc: psycopg.Error, role: str, statements: Sequence[str]) -> MissingPrivilege:
    """The one line a person needs when `role` was refused running one of `statements`.

    In a pipeline the refusal may surface on a later statement than the one refused, so the
    verbs come from the statements that name the table the server names, when any does.
    """
    reason = exc.diag.message_primary or str(exc) or "permission denied"
    named = _DENIED_ON.search(reason)
    if named:
        table = re.compile(rf"\b{re.escape(named.group(1))}\b")
        statements = [s for s in statements if table.search(s)] or statements
    verbs = dict.fromkeys(v for v in map(statement_verb, statements) if v and v != "SET")
    verb = "/".join(verbs) or "do that"
    who = role_name(role)
    if verbs.keys() & _DDL:
        advice = (
            "schema changes are the owner's: run `beproduct-sync migrate` with the owner's"
            " DATABASE_URL, and run the service with BEPRODUCT_SYNC_AUTO_MIGRATE=false"
        )
    else:
        advice = grant_advice(who)
    return MissingPrivilege(f"database role {who} may not {verb} here ({reason}): {advice}")


def role_name(role: str) -> str:
    """`role` as SQL spells it (quoted when it must be)."""
    return role if _PLAIN_ROLE.fullmatch(role) else '"' + role.replace('"', '""') + '"'


def grant_advice(role: str) -> str:
    """What to do when the service's role lacks a privilege."""
    return (
        f"as the owner of the ops schema run GRANT beproduct_sync_service TO {role};"
        " and apply the migrations as the owner"
    )


def _text(query: QueryNoTemplate, conn: Any) -> str:
    if isinstance(query, bytes):
        return query.decode(errors="replace")
    if isinstance(query, sql.Composable):
        return str(query.as_string(conn))
    return str(query)


def _role(conn: Any) -> str:
    """The session's role (the server reports it; behind a pooler the user name can differ)."""
    return str(conn.info.parameter_status("session_authorization") or conn.info.user)


def _refused(exc: psycopg.Error, conn: Any, queries: Sequence[QueryNoTemplate]) -> MissingPrivilege:
    return missing_privilege(exc, _role(conn), [_text(q, conn) for q in queries])


class Cursor(psycopg.Cursor[Row]):
    """psycopg's cursor, raising MissingPrivilege for a refused statement."""

    def execute(  # type: ignore[override]  # no template strings (Python 3.14) used here
        self,
        query: QueryNoTemplate,
        params: Params | None = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> Self:
        try:
            return super().execute(query, params, prepare=prepare, binary=binary)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise _refused(exc, self.connection, [query]) from exc


class AsyncCursor(psycopg.AsyncCursor[Row]):
    """Async twin of Cursor."""

    async def execute(  # type: ignore[override]  # no template strings (Python 3.14) used here
        self,
        query: QueryNoTemplate,
        params: Params | None = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> Self:
        conn = self.connection
        pipelined = conn.pipelined if isinstance(conn, AsyncConnection) else None
        if pipelined is not None:
            pipelined.append(query)
        try:
            return await super().execute(query, params, prepare=prepare, binary=binary)
        except psycopg.errors.InsufficientPrivilege as exc:
            # In a pipeline the statement refused may be any sent before this one.
            raise _refused(exc, conn, pipelined or [query]) from exc


class AsyncConnection(psycopg.AsyncConnection[Row]):
    """psycopg's async connection; in pipeline mode a refused statement's error arrives when
    the pipeline syncs, and becomes MissingPrivilege there, naming what was sent."""

    pipelined: list[QueryNoTemplate] | None = None  # the statements of the open pipeline

    @asynccontextmanager
    async def pipeline(self) -> AsyncIterator[psycopg.AsyncPipeline]:
        outer = self.pipelined is None
        if outer:
            self.pipelined = []
        try:
            async with super().pipeline() as pipeline:
                yield pipeline
        except psycopg.errors.InsufficientPrivilege as exc:
            raise _refused(exc, self, self.pipelined or []) from exc
        finally:
            if outer:
                self.pipelined = None


def pool_kwargs() -> dict[str, Any]:
    """Connection options for an async pool (with connection_class=AsyncConnection):
    autocommit, no server-side prepares (transaction poolers), and the cursor that names
    missing privileges."""
    return {"autocommit": True, "prepare_threshold": None, "cursor_factory": AsyncCursor}


def connect(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A connection that works through transaction-mode poolers (no server-side prepares)."""
    try:
        return psycopg.connect(url, prepare_threshold=None, cursor_factory=Cursor, **kwargs)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable() from exc


PREPARE_THRESHOLD = 5  # psycopg's default: a statement run this often is prepared


async def aconnect(
    url: str, *, prepare: bool = False, **kwargs: Any
) -> psycopg.AsyncConnection[Any]:
    """Async twin of connect(). With `prepare`, statements run repeatedly are prepared on the
    server (planned once per connection): only for a direct or session-mode connection."""
    try:
        return await AsyncConnection.connect(
            url,
            prepare_threshold=PREPARE_THRESHOLD if prepare else None,
            cursor_factory=AsyncCursor,
            **kwargs,
        )
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

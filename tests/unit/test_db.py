"""db: the embedded PostgreSQL is an optional extra, and its absence is a clear error; a refused
statement becomes one line saying what to do."""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg
import pytest

from beproduct_sync import db
from beproduct_sync.errors import ConfigError, EmbeddedNotInstalled, MissingPrivilege


def test_without_the_embedded_extra_the_error_says_to_set_a_url_or_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "pgserver", None)  # what `import` sees when not installed
    with pytest.raises(EmbeddedNotInstalled) as caught:
        db.resolve_url(None, tmp_path)
    assert isinstance(caught.value, ConfigError)
    message = str(caught.value)
    assert "DATABASE_URL" in message and "beproduct-sync[embedded]" in message
    assert not (tmp_path / "pgdata").exists()


def test_a_given_url_never_needs_the_embedded_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "pgserver", None)
    url = "postgresql://someone@db.example/x"
    assert db.resolve_url(url, tmp_path) == url


@pytest.mark.parametrize(
    ("statement", "verb"),
    [
        ("SELECT 1", "SELECT"),
        ("-- why\ninsert into ops.t values (1)", "INSERT"),
        ("/* x */ WITH picked AS (SELECT id FROM t FOR UPDATE) UPDATE t SET x = 1", "UPDATE"),
        ("WITH a AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT * FROM a", "SELECT"),
        ("CREATE SCHEMA IF NOT EXISTS ops", "CREATE"),
        ("", ""),
    ],
)
def test_statement_verb_is_the_command_that_runs(statement: str, verb: str) -> None:
    assert db.statement_verb(statement) == verb


def test_a_refused_write_says_which_role_what_and_the_grant_on_one_line() -> None:
    exc = psycopg.errors.InsufficientPrivilege("permission denied for table tracking_plan_style")
    error = db.missing_privilege(exc, "app", ["SET LOCAL x = 1", "INSERT INTO ops.t VALUES (1)"])
    assert isinstance(error, MissingPrivilege)
    assert str(error) == (
        "database role app may not INSERT here (permission denied for table"
        " tracking_plan_style): as the owner of the ops schema run GRANT beproduct_sync_service"
        " TO app; and apply the migrations as the owner"
    )


def test_in_a_pipeline_the_verb_comes_from_the_statement_on_the_refused_table() -> None:
    """A pipeline reports a refusal on whichever later statement fetched results."""
    exc = psycopg.errors.InsufficientPrivilege("permission denied for table tracking_plan_style")
    pipeline = [
        "WITH x AS (SELECT 1) UPDATE ops.beproduct_sync_log SET status = 'processing'",
        "INSERT INTO ops.tracking_plan_style AS t SELECT * FROM jsonb_to_recordset(%(rows)s)",
        "SELECT id FROM ops.tracking_plan_style_timeline WHERE plan_id = %(plan)s",
    ]
    assert "may not INSERT here" in str(db.missing_privilege(exc, "app", pipeline))


def test_a_refused_schema_change_says_migrations_are_the_owners_and_quotes_odd_roles() -> None:
    exc = psycopg.errors.InsufficientPrivilege("permission denied for database x")
    error = str(db.missing_privilege(exc, "App.ref", ["CREATE SCHEMA IF NOT EXISTS ops"]))
    assert error.startswith('database role "App.ref" may not CREATE here')
    assert "run `beproduct-sync migrate` with the owner's DATABASE_URL" in error
    assert "GRANT" not in error and "\n" not in error

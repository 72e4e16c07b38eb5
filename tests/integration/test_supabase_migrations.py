"""Migrations next to a Supabase project's own: `beproduct-sync supabase export` writes them into
the project, `supabase db push` (the real CLI, or the same steps done here) applies them, and
beproduct-sync counts them as applied, records them in its own history and never runs them
again. An edited migration is a clear error, never silently accepted."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from beproduct_sync import migrations
from beproduct_sync.migrations.history import content_key
from tests.helpers.cli import run_cli
from tests.helpers.live_server import live_server
from tests.helpers.supabase import (
    DATABASE_SQL,
    LINTS,
    cli_push,
    cli_url,
    create_database,
    drop_database,
    private_cluster,
    push_like_the_cli,
    run_lint,
    security_snapshot,
    service_login,
    split_statements,
    with_db,
)

BUNDLED = [f"{m.version}_{m.name}" for m in migrations.bundled()]


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A private cluster with Supabase's roles (see tests/helpers/supabase.py)."""
    with private_cluster() as url:
        yield url


@contextmanager
def supabase_database(cluster: str) -> Iterator[str]:
    """A new, empty Supabase-like database owned by migration_owner; yields the owner's URL."""
    name = create_database(cluster, "sbm", owner="migration_owner")
    try:
        with psycopg.connect(with_db(cluster, name), autocommit=True) as conn:
            conn.execute(DATABASE_SQL.encode())
        yield with_db(cluster, name, user="migration_owner")
    finally:
        drop_database(cluster, name)


def superuser(cluster: str, owner: str) -> str:
    """The cluster's superuser URL for the database of `owner`."""
    return with_db(cluster, str(conninfo_to_dict(owner)["dbname"]))


def new_project(root: Path) -> Path:
    """A Supabase project's (empty) migrations folder."""
    folder = root / "project" / "supabase" / "migrations"
    folder.mkdir(parents=True)
    return folder


def export(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("supabase", "export", "--dir", str(folder), *args, env={})


def beproduct_sync(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env={"DATABASE_URL": url, "BEPRODUCT_SYNC_LOG_FORMAT": "json", **env})


def ours(url: str) -> list[tuple[str, str, str | None]]:
    with psycopg.connect(url) as conn:
        return [
            (f"{v}_{n}", s, k)
            for v, n, s, k in conn.execute(
                "SELECT version, name, source, content_key FROM ops.schema_migrations"
                " ORDER BY version"
            )
        ]


def supabase_history(url: str) -> list[tuple[str, str, list[str]]]:
    with psycopg.connect(url) as conn:
        return [
            (str(v), str(n), list(s))
            for v, n, s in conn.execute(
                "SELECT version, name, statements FROM supabase_migrations.schema_migrations"
                " ORDER BY version"
            )
        ]


def ready(url: str) -> httpx.Response:
    with live_server(url) as base:
        return httpx.get(base + "/readyz", timeout=10)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The only line a failed command printed (JSON log lines of libraries aside)."""
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, done.stderr
    return lines[0]


# --- with the real Supabase CLI -------------------------------------------------------------


def test_export_push_and_migrate_agree_and_nothing_runs_twice(
    supabase_cli: Path, cluster: str, tmp_path: Path
) -> None:
    folder = new_project(tmp_path)
    with supabase_database(cluster) as owner, supabase_database(cluster) as reference:
        # The project's own migration, pushed before beproduct-sync joined it.
        (folder / "20250101000000_notes.sql").write_text("CREATE TABLE public.notes (id int);\n")
        assert cli_push(supabase_cli, owner, folder.parents[1]).returncode == 0

        exported = export(folder)
        assert exported.returncode == 0, exported.stderr
        assert "supabase db push" in exported.stdout
        files = sorted(folder.glob("*_beproduct_sync_*.sql"))
        assert [f.stem.split("_beproduct_sync_")[1] for f in files] == BUNDLED
        pushed = cli_push(supabase_cli, owner, folder.parents[1])  # no --include-all needed
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        assert all(f.name in pushed.stdout + pushed.stderr for f in files)
        recorded = supabase_history(owner)[1:]
        assert [(f"{v}_{n}.sql", s) for v, n, s in recorded] == [
            (f.name, split_statements(f.read_text())) for f in files
        ]

        # Ready at once, as a role that owns nothing: Supabase's history counts.
        with service_login(owner, owner) as app:
            assert ready(app).status_code == 200, ready(app).text

        done = beproduct_sync(owner, "migrate")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "applied 0 migration(s)"
        assert "recorded migration" in done.stderr
        assert ours(owner) == [
            (name, "supabase", content_key(m.sql))
            for name, m in zip(BUNDLED, migrations.bundled(), strict=True)
        ]
        assert len(supabase_history(owner)) == len(BUNDLED) + 1  # never written by us

        # Nothing pending: commands start as a role that may not change the schema.
        with service_login(owner, owner) as app:
            status = beproduct_sync(app, "status", BEPRODUCT_SYNC_AUTO_MIGRATE="true")
            assert status.returncode == 0, status.stderr

        again = cli_push(supabase_cli, owner, folder.parents[1])
        assert again.returncode == 0 and "up to date" in again.stdout + again.stderr

        # The same schema and privileges as `beproduct-sync migrate` gives; a clean advisor.
        assert beproduct_sync(reference, "migrate").returncode == 0
        pushed_db, migrated_db = superuser(cluster, owner), superuser(cluster, reference)
        assert security_snapshot(pushed_db, {"ops"}) == security_snapshot(migrated_db, {"ops"})
        for lint in set(LINTS) - {"pg_graphql_authenticated_table_exposed"}:
            assert run_lint(pushed_db, lint, {"ops"}, {"ops"}) == [], lint


def test_an_exported_file_edited_before_the_push_is_refused_with_the_way_out(
    supabase_cli: Path, cluster: str, tmp_path: Path
) -> None:
    folder = new_project(tmp_path)
    assert export(folder).returncode == 0
    edited = sorted(folder.glob("*_beproduct_sync_*.sql"))[1]
    edited.write_text(edited.read_text() + "\nCREATE TABLE public.local_change (id int);\n")

    line = one_error_line(export(folder))
    assert str(edited) in line and "edited after it was exported" in line

    with supabase_database(cluster) as owner:
        assert cli_push(supabase_cli, owner, folder.parents[1]).returncode == 0
        line = one_error_line(beproduct_sync(owner, "migrate"))
        stamp = edited.name.split("_", 1)[0]
        assert edited.name in line and "edited after it was exported" in line
        assert f"supabase migration repair --status reverted {stamp}" in line
        answer = ready(owner)
        assert (answer.status_code, answer.json()["error"]) == (503, "migration_changed")

        # The way out the message gives.
        edited.unlink()
        repair = subprocess.run(
            [
                str(supabase_cli),
                "migration",
                "repair",
                "--status",
                "reverted",
                stamp,
                f"--remote={cli_url(owner)}",
                "--yes",
                "--workdir",
                str(folder.parents[1]),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert repair.returncode == 0, repair.stdout + repair.stderr
        assert export(folder).returncode == 0
        assert cli_push(supabase_cli, owner, folder.parents[1]).returncode == 0
        done = beproduct_sync(owner, "migrate")
        assert done.returncode == 0, done.stderr
        assert [source for _, source, _ in ours(owner)] == ["supabase"] * len(BUNDLED)
        assert ready(owner).status_code == 200


# --- the same steps without the CLI ---------------------------------------------------------


def test_a_push_done_the_way_the_cli_does_it_is_recognised_and_recorded(
    empty_db_url: str, tmp_path: Path
) -> None:
    folder = new_project(tmp_path)
    assert export(folder).returncode == 0
    assert len(push_like_the_cli(empty_db_url, folder)) == len(BUNDLED)
    assert ready(empty_db_url).status_code == 200

    assert migrations.migrate(empty_db_url) == []
    assert [(name, source) for name, source, _ in ours(empty_db_url)] == [
        (name, "supabase") for name in BUNDLED
    ]
    assert migrations.migrate(empty_db_url) == []
    assert push_like_the_cli(empty_db_url, folder) == []  # nothing left to push


def test_an_applied_migration_that_changed_is_an_error_not_ignored(
    db_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE ops.schema_migrations SET checksum = md5(checksum), content_key = NULL"
            " WHERE version = %s",
            (migrations.bundled()[0].version,),
        )
    line = one_error_line(beproduct_sync(db_url, "migrate"))
    assert BUNDLED[0] in line and "never edited" in line
    answer = ready(db_url)
    assert (answer.status_code, answer.json()["error"]) == (503, "migration_changed")
    assert BUNDLED[0] in answer.json()["message"]


def test_an_applied_migration_that_differs_only_in_white_space_is_accepted_and_logged(
    db_url: str,
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE ops.schema_migrations SET checksum = md5(checksum) WHERE version = %s",
            (migrations.bundled()[0].version,),
        )
    done = beproduct_sync(db_url, "migrate")
    assert done.returncode == 0, done.stderr
    assert "differs only in white space" in done.stderr
    assert ready(db_url).status_code == 200


def test_an_older_history_is_upgraded_and_gets_content_keys(db_url: str) -> None:
    # As an earlier release left it: no content_key or source columns, no 20261201000015.
    newest = migrations.bundled()[-1]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "ALTER TABLE ops.schema_migrations DROP COLUMN content_key, DROP COLUMN source"
        )
        conn.execute("DELETE FROM ops.schema_migrations WHERE version = %s", (newest.version,))
    assert ready(db_url).json()["error"] == "migrations_pending"
    assert migrations.migrate(db_url) == [newest.version]
    assert ours(db_url) == [
        (name, "beproduct-sync", content_key(m.sql))
        for name, m in zip(BUNDLED, migrations.bundled(), strict=True)
    ]

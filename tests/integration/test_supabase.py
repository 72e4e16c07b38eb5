"""A good Supabase citizen: row level security, a clean security advisor, no access for API roles
beyond the documented reader policy, and a service that runs as a role owning nothing.

The Supabase-like database lives in a private cluster (see supabase_support.py); the plain
PostgreSQL checks use the shared test server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from beproduct_sync import migrations
from tests.helpers.cli import run_cli
from tests.helpers.samples import CASES, SAMPLE_NAMES, sample_path
from tests.helpers.supabase import (
    DATABASE_SQL,
    EXPOSE_RECIPE_SQL,
    LINTS,
    SENSITIVE_NAMES,
    SERVICE_ROLE,
    create_database,
    drop_database,
    migration_files,
    named_query,
    private_cluster,
    run_lint,
    security_snapshot,
    service_login,
    user_schemas,
    with_db,
)

# What signed-in readers may read (with the claim), and what only the service may touch.
TRACKING_TABLES = {
    "tracking_folder",
    "tracking_plan",
    "tracking_timeline_template_item",
    "tracking_plan_style",
    "tracking_plan_material",
    "tracking_plan_style_timeline",
    "tracking_plan_material_timeline",
    "tracking_timeline_assignment",
    "tracking_material_timeline_assignment",
}
READER_VIEWS = {"tracking_plan_style_timeline_detail", "tracking_plan_material_timeline_detail"}
# The read model: signed-in readers see its settings (risk thresholds) and its views, whose
# rows are the tracking tables' rows their policies let through.
READ_MODEL = {
    "ops.read_settings",
    "ops_api.plans",
    "ops_api.milestone_definitions",
    "ops_api.milestone_state",
    "ops_api.milestone",
}
SERVICE_ONLY = {
    "beproduct_sync_log",
    "import_errors",
    "beproduct_api_token",
    "enrichment_job",
    "backfill_run",
    "backfill_checkpoint",
    "backfill_plan_sync",
    "schema_migrations",
    "api_health",
    "reconcile_run",
}
READER_CLAIMS = {"role": "authenticated", "app_metadata": {"beproduct_sync_reader": True}}
PAYLOADS = [str(sample_path(n)) for n in SAMPLE_NAMES] + [
    str(CASES / "oncreate_material.json"),
    str(CASES / "onchange_unknown_status.json"),
]


@dataclass(frozen=True)
class Database:
    """A database of the private Supabase-like cluster."""

    server: str  # superuser URL of the cluster
    name: str
    schemas: frozenset[str]  # the schemas our migrations created

    @property
    def superuser(self) -> str:
        return with_db(self.server, self.name)

    @property
    def owner(self) -> str:
        return with_db(self.server, self.name, user="migration_owner")


@pytest.fixture(scope="module")
def supabase_server() -> Iterator[str]:
    with private_cluster() as url:
        yield url


@pytest.fixture(scope="module")
def supabase_template(supabase_server: str) -> Iterator[Database]:
    """Supabase's roles and auth helpers, then every migration applied by the owner."""
    name = create_database(supabase_server, "sb_tmpl", owner="migration_owner")
    template = Database(supabase_server, name, frozenset())
    with psycopg.connect(template.superuser, autocommit=True) as conn:
        conn.execute(DATABASE_SQL.encode())
    before = user_schemas(template.superuser)
    migrations.migrate(template.owner)
    yield Database(supabase_server, name, frozenset(user_schemas(template.superuser) - before))
    drop_database(supabase_server, name)


@contextmanager
def clone(template: Database) -> Iterator[Database]:
    name = create_database(template.server, "sb", owner="migration_owner", template=template.name)
    try:
        yield Database(template.server, name, template.schemas)
    finally:
        drop_database(template.server, name)


@pytest.fixture
def supabase_db(supabase_template: Database) -> Iterator[Database]:
    """A fresh migrated Supabase-like database for this test alone."""
    with clone(supabase_template) as database:
        yield database


def ingest_as(url: str, *paths: str) -> None:
    done = run_cli(
        "ingest",
        *paths,
        env={
            "DATABASE_URL": url,
            "BEPRODUCT_SYNC_AUTO_MIGRATE": "false",
            "BEPRODUCT_SYNC_LOG_FORMAT": "json",
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def populated(supabase_template: Database) -> Iterator[Database]:
    """A Supabase-like database with rows in every table API roles must not read."""
    with clone(supabase_template) as database:
        ingest_as(database.owner, *PAYLOADS)
        with psycopg.connect(database.owner) as conn:
            conn.execute(
                named_query("api_token_start"),
                {
                    "client_id": "client",
                    "configured_sha256": b"x" * 32,
                    "configured_token": "a-refresh-token",
                },
            )
            conn.execute(
                "INSERT INTO ops.backfill_run (run_key, options, snapshot_at)"
                " VALUES ('k', '{}', now())"
            )
        yield database


def count_rows(conn: psycopg.Connection[Any], relation: str) -> int:
    """Rows of ops.<relation> the current role sees; -1 when it may not read it at all."""
    try:
        with conn.transaction():
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("ops", relation))
            ).fetchone()
    except psycopg.errors.InsufficientPrivilege:
        return -1
    assert row is not None
    return int(row[0])


@contextmanager
def acting_as(
    url: str, role: str, claims: dict[str, Any] | None = None, setup: str | None = None
) -> Iterator[psycopg.Connection[Any]]:
    """A transaction (rolled back) in which `role` is the current role, as PostgREST does it:
    SET LOCAL ROLE and the request's JWT claims in request.jwt.claims."""
    with psycopg.connect(url) as conn:
        if setup:
            conn.execute(setup.encode())
        if claims is not None:
            conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        yield conn
        conn.rollback()


def visible(
    url: str, role: str, claims: dict[str, Any] | None = None, setup: str | None = None
) -> dict[str, int]:
    relations = TRACKING_TABLES | READER_VIEWS | SERVICE_ONLY
    with acting_as(url, role, claims, setup) as conn:
        return {r: count_rows(conn, r) for r in sorted(relations)}


# --- (a) the security advisor --------------------------------------------------------------


def lint(database: Database, name: str) -> list[str]:
    return run_lint(database.superuser, name, set(database.schemas), set(database.schemas))


def test_the_migrations_create_only_the_ops_schema(supabase_template: Database) -> None:
    # Every check below runs over the schemas the migrations created; if a read schema is
    # added, it is checked (and exposed to the advisor) the same way.
    assert "ops" in supabase_template.schemas


def test_every_table_of_ours_has_rls_enabled(supabase_template: Database) -> None:
    with psycopg.connect(supabase_template.superuser) as conn:
        off = conn.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p') AND NOT c.relrowsecurity AND n.nspname = ANY (%s)",
            (sorted(supabase_template.schemas),),
        ).fetchall()
    assert off == []


def test_advisor_rls_disabled_in_public_with_ops_exposed(supabase_template: Database) -> None:
    assert lint(supabase_template, "rls_disabled_in_public") == []


def test_advisor_policy_exists_rls_disabled(supabase_template: Database) -> None:
    assert lint(supabase_template, "policy_exists_rls_disabled") == []


def test_advisor_rls_enabled_no_policy(supabase_template: Database) -> None:
    # Satisfied by the service's policy, which every table has: service-only tables have no
    # grant and no policy for the API roles, so anon and authenticated read nothing there.
    assert lint(supabase_template, "rls_enabled_no_policy") == []


def test_advisor_security_definer_view(supabase_template: Database) -> None:
    assert lint(supabase_template, "security_definer_view") == []


def test_every_view_of_ours_runs_with_the_callers_rights(supabase_template: Database) -> None:
    # Stricter than the advisor: granted to API roles or not.
    with psycopg.connect(supabase_template.superuser) as conn:
        views = conn.execute(
            "SELECT c.relname, c.reloptions FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('v', 'm') AND n.nspname = ANY (%s)",
            (sorted(supabase_template.schemas),),
        ).fetchall()
    assert {name for name, _ in views} >= READER_VIEWS
    assert all("security_invoker=true" in (options or []) for _, options in views), views


def test_advisor_function_search_path_mutable(supabase_template: Database) -> None:
    assert lint(supabase_template, "function_search_path_mutable") == []


def test_advisor_sensitive_columns_exposed(supabase_template: Database) -> None:
    assert lint(supabase_template, "sensitive_columns_exposed") == []


def test_no_api_role_may_select_a_sensitive_column_at_all(supabase_template: Database) -> None:
    # Stricter than the advisor, which looks only at tables without RLS.
    with psycopg.connect(supabase_template.superuser) as conn:
        readable = conn.execute(
            "SELECT r.rolname, c.relname, a.attname FROM pg_attribute a"
            " JOIN pg_class c ON c.oid = a.attrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " CROSS JOIN (VALUES ('anon'), ('authenticated')) AS r(rolname)"
            " WHERE n.nspname = ANY (%s) AND a.attnum > 0 AND NOT a.attisdropped"
            "   AND (replace(lower(a.attname), '-', '_') = ANY (%s)"
            "        OR a.attname LIKE '%%token%%')"
            "   AND has_column_privilege(r.rolname, c.oid, a.attnum, 'SELECT')",
            (sorted(supabase_template.schemas), SENSITIVE_NAMES),
        ).fetchall()
        token = conn.execute(
            "SELECT has_column_privilege('authenticated', 'ops.beproduct_api_token',"
            " 'refresh_token', 'SELECT'), has_column_privilege('anon',"
            " 'ops.beproduct_api_token', 'refresh_token', 'SELECT')"
        ).fetchone()
    assert readable == []
    assert token == (False, False)


@pytest.mark.parametrize(
    "name",
    [
        "auth_rls_initplan",
        "multiple_permissive_policies",
        "rls_references_user_metadata",
        "rls_policy_always_true",
        "security_definer_function_executable",
        "pg_graphql_anon_table_exposed",
    ],
)
def test_advisor_other_security_and_performance_lints(
    supabase_template: Database, name: str
) -> None:
    assert lint(supabase_template, name) == []


def test_advisor_graphql_shows_signed_in_users_only_the_reader_objects(
    supabase_template: Database,
) -> None:
    # pg_graphql_authenticated_table_exposed (WARN, only where pg_graphql is installed) reports
    # every object `authenticated` may select. Signed-in readers are a requirement, so exactly
    # the tracking tables and detail views are expected; never the service-only tables.
    found = lint(supabase_template, "pg_graphql_authenticated_table_exposed")
    assert found == sorted({f"ops.{t}" for t in TRACKING_TABLES | READER_VIEWS} | READ_MODEL)


def test_the_lints_catch_what_they_are_meant_to(supabase_db: Database) -> None:
    # The lint queries are only worth something if they fire: break each rule once.
    with psycopg.connect(supabase_db.superuser, autocommit=True) as conn:
        conn.execute("CREATE TABLE ops.lint_probe (id int, refresh_token text)")
        conn.execute("GRANT SELECT ON ops.lint_probe TO authenticated")
        conn.execute("CREATE POLICY p ON ops.lint_probe FOR UPDATE TO anon USING (true)")
        conn.execute("CREATE TABLE ops.lint_probe_rls (id int)")
        conn.execute("ALTER TABLE ops.lint_probe_rls ENABLE ROW LEVEL SECURITY")
        conn.execute("CREATE VIEW ops.lint_probe_view AS SELECT 1 AS x")
        conn.execute("GRANT SELECT ON ops.lint_probe_view TO anon")
        conn.execute(
            "CREATE FUNCTION ops.lint_probe_fn() RETURNS int LANGUAGE sql"
            " SECURITY DEFINER AS 'SELECT 1'"
        )
        conn.execute("CREATE TABLE ops.lint_probe_pol (id int)")
        conn.execute("ALTER TABLE ops.lint_probe_pol ENABLE ROW LEVEL SECURITY")
        conn.execute("GRANT SELECT ON ops.lint_probe_pol TO authenticated")
        conn.execute(
            "CREATE POLICY p1 ON ops.lint_probe_pol FOR SELECT TO authenticated"
            " USING (current_setting('request.jwt.claims', true) IS NOT NULL)"
        )
        conn.execute(
            "CREATE POLICY p2 ON ops.lint_probe_pol FOR SELECT TO authenticated"
            " USING ((auth.jwt() -> 'user_metadata') IS NOT NULL)"
        )
        conn.execute("CREATE POLICY p3 ON ops.lint_probe_pol FOR DELETE TO anon USING (true)")
    expected = {
        "rls_disabled_in_public": ["ops.lint_probe"],
        "policy_exists_rls_disabled": ["ops.lint_probe"],
        "rls_enabled_no_policy": ["ops.lint_probe_rls"],
        "security_definer_view": ["ops.lint_probe_view"],
        "function_search_path_mutable": ["ops.lint_probe_fn"],
        "sensitive_columns_exposed": ["ops.lint_probe.refresh_token"],
        "security_definer_function_executable": ["ops.lint_probe_fn"],
        "pg_graphql_anon_table_exposed": ["ops.lint_probe_view"],
        "auth_rls_initplan": ["ops.lint_probe_pol:p1", "ops.lint_probe_pol:p2"],
        "rls_references_user_metadata": ["ops.lint_probe_pol:p2"],
        "multiple_permissive_policies": ["ops.lint_probe_pol:authenticated:SELECT"],
        "rls_policy_always_true": ["ops.lint_probe_pol:p3"],
    }
    for name, found in expected.items():
        assert lint(supabase_db, name) == found, name
    graphql = set(lint(supabase_db, "pg_graphql_authenticated_table_exposed"))
    assert {"ops.lint_probe", "ops.lint_probe_pol"} <= graphql
    assert set(LINTS) == {*expected, "pg_graphql_authenticated_table_exposed"}


# --- (b) what the API roles see ------------------------------------------------------------


@pytest.mark.parametrize("recipe", [False, True], ids=["as migrated", "after GRANT ALL recipe"])
def test_anon_reads_nothing_in_ops(populated: Database, recipe: bool) -> None:
    seen = visible(
        populated.superuser, "anon", {"role": "anon"}, EXPOSE_RECIPE_SQL if recipe else None
    )
    if recipe:  # granted everything, RLS still lets no row through
        assert set(seen.values()) == {0}, seen
    else:  # no grant at all (not even USAGE on the schema)
        assert set(seen.values()) == {-1}, seen


@pytest.mark.parametrize("recipe", [False, True], ids=["as migrated", "after GRANT ALL recipe"])
def test_signed_in_users_without_the_claim_read_no_rows(populated: Database, recipe: bool) -> None:
    setup = EXPOSE_RECIPE_SQL if recipe else None
    for claims in (
        {"role": "authenticated"},
        {"role": "authenticated", "user_metadata": {"beproduct_sync_reader": True}},
        {"role": "authenticated", "app_metadata": {"beproduct_sync_reader": "true"}},
    ):
        seen = visible(populated.superuser, "authenticated", claims, setup)
        assert {seen[r] for r in TRACKING_TABLES | READER_VIEWS} == {0}, (claims, seen)
        assert {seen[r] for r in SERVICE_ONLY} == ({0} if recipe else {-1}), (claims, seen)


def test_signed_in_users_without_any_claims_read_no_rows(populated: Database) -> None:
    # A session where request.jwt.claims was never set, or was reset to '' by a pooler.
    assert set(visible(populated.superuser, "authenticated").values()) <= {0, -1}
    seen = visible(
        populated.superuser,
        "authenticated",
        setup="SELECT set_config('request.jwt.claims', '', false)",
    )
    assert set(seen.values()) <= {0, -1}


@pytest.mark.parametrize("recipe", [False, True], ids=["as migrated", "after GRANT ALL recipe"])
def test_readers_with_the_claim_see_every_tracking_row_and_nothing_else(
    populated: Database,
    recipe: bool,
) -> None:
    everything = visible(populated.superuser, "migration_owner")  # the owner bypasses RLS
    assert all(
        everything[r] > 0
        for r in (
            "tracking_plan_style",
            "tracking_plan_material",
            "tracking_plan_style_timeline_detail",
            "beproduct_sync_log",
            "import_errors",
            "beproduct_api_token",
        )
    )
    seen = visible(
        populated.superuser, "authenticated", READER_CLAIMS, EXPOSE_RECIPE_SQL if recipe else None
    )
    assert {r: seen[r] for r in TRACKING_TABLES | READER_VIEWS} == {
        r: everything[r] for r in TRACKING_TABLES | READER_VIEWS
    }
    assert {seen[r] for r in SERVICE_ONLY} == ({0} if recipe else {-1}), seen


def test_read_functions_keeping_their_plans_follow_each_callers_rows(
    populated: Database,
) -> None:
    # ops_api.plan_critical_path and ops_api.entity_milestones keep one plan per connection:
    # on one connection, callers taking turns still see only the rows their claims give them.
    with psycopg.connect(populated.superuser) as conn:
        row = conn.execute(
            "SELECT plan_id FROM ops.tracking_plan_style WHERE active"
            " GROUP BY plan_id ORDER BY count(*) DESC, plan_id LIMIT 1"
        ).fetchone()
        assert row is not None
        queries = (
            "SELECT count(*) FROM ops_api.plan_critical_path(%(plan)s)",
            "SELECT count(*) FROM ops_api.entity_milestones(%(plan)s, NULL)",
        )
        everything = [conn.execute(q, {"plan": row[0]}).fetchone() for q in queries]
        assert all(n is not None and n[0] > 0 for n in everything), everything
        conn.rollback()
        for turn in range(8):  # past the plan cache's first custom plans
            claims = READER_CLAIMS if turn % 2 == 0 else {"role": "authenticated"}
            conn.execute("SELECT set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
            conn.execute("SET LOCAL ROLE authenticated")
            seen = [conn.execute(q, {"plan": row[0]}).fetchone() for q in queries]
            conn.rollback()
            assert seen == (everything if turn % 2 == 0 else [(0,), (0,)]), (turn, seen)


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_api_roles_cannot_write_even_after_the_grant_all_recipe(
    populated: Database, role: str
) -> None:
    claims = READER_CLAIMS if role == "authenticated" else {"role": role}
    with acting_as(populated.superuser, role, claims, EXPOSE_RECIPE_SQL) as conn:
        for statement in (
            "INSERT INTO ops.tracking_folder (id) VALUES (gen_random_uuid())",
            "INSERT INTO ops.beproduct_sync_log (body_sha256, payload) VALUES ('\\x00', '{}')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(statement)
        for statement in (
            "UPDATE ops.tracking_plan_style SET style_name = 'x'",
            "UPDATE ops.beproduct_api_token SET refresh_token = 'x'",
            "DELETE FROM ops.tracking_plan_style_timeline",
            "DELETE FROM ops.beproduct_sync_log",
        ):
            with conn.transaction():
                assert conn.execute(statement).rowcount == 0, statement


def test_the_reader_rule_is_one_function_with_a_fixed_search_path(
    supabase_template: Database,
) -> None:
    with psycopg.connect(supabase_template.superuser) as conn:
        row = conn.execute(
            "SELECT p.prosecdef, p.proconfig, has_function_privilege('anon', p.oid, 'EXECUTE'),"
            " has_function_privilege('authenticated', p.oid, 'EXECUTE')"
            " FROM pg_proc p WHERE p.oid = 'ops.can_read_tracking()'::regprocedure"
        ).fetchone()
        policies = conn.execute(
            "SELECT DISTINCT roles::text, cmd, qual FROM pg_policies"
            " WHERE schemaname = 'ops' AND policyname = 'beproduct_sync_reader_select'"
        ).fetchall()
    assert row == (False, ['search_path=""'], False, True)
    assert [(r, c) for r, c, _ in policies] == [("{authenticated}", "SELECT")]
    assert "can_read_tracking" in policies[0][2]


# --- (c) the service as a role that owns nothing -------------------------------------------


@pytest.fixture(params=["supabase", "plain"])
def service_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A migrated database (Supabase-like, or plain PostgreSQL) and a login role that is only a
    member of beproduct_sync_service; yields that role's URL."""
    if request.param == "supabase":
        database = request.getfixturevalue("supabase_db")
        # The owner (CREATEROLE, not superuser) grants the membership, as documented.
        with service_login(database.owner, database.owner) as url:
            yield url
    else:
        db_url = request.getfixturevalue("db_url")
        with service_login(db_url, db_url) as url:
            yield url


def test_serve_runs_as_the_service_role_receives_applies_and_is_ready(
    supabase_db: Database, tmp_path: Path
) -> None:
    """The default `serve` (receiver, and workers in a child process that LISTENs) as a login
    role that is only a member of beproduct_sync_service."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    base = f"http://127.0.0.1:{port}"
    with service_login(supabase_db.owner, supabase_db.owner) as url:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "BEPRODUCT_SYNC_AUTO_MIGRATE": "false",
            "BEPRODUCT_WEBHOOK_SECRET": "service-role-secret",
            "BEPRODUCT_SYNC_PORT": str(port),
            "BEPRODUCT_SYNC_LOG_FORMAT": "json",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "beproduct_sync", "serve"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, proc.communicate()
                try:
                    ready = httpx.get(base + "/readyz", timeout=1)
                    if ready.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "serve did not become ready"
                time.sleep(0.1)
            for name in SAMPLE_NAMES:
                answer = httpx.post(
                    base + "/webhooks/beproduct/tracking",
                    content=sample_path(name).read_bytes(),
                    headers={
                        "Authorization": "Bearer service-role-secret",
                        "Content-Type": "application/json",
                    },
                )
                assert answer.status_code == 202, answer.text
            deadline = time.monotonic() + 30
            while True:
                with psycopg.connect(supabase_db.owner) as conn:
                    statuses = [
                        r[0] for r in conn.execute("SELECT status FROM ops.beproduct_sync_log")
                    ]
                # Two workers may apply the OnDelete before the older OnChange, which then
                # settles as stale: both are the event taken into account.
                settled = len(statuses) == 3 and set(statuses) <= {"applied", "stale"}
                if settled or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert httpx.get(base + "/metrics", timeout=5).status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
    assert len(statuses) == 3 and set(statuses) <= {"applied", "stale"}, statuses
    assert "applied" in statuses
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_the_service_role_is_neither_superuser_nor_owner_of_anything(service_url: str) -> None:
    with psycopg.connect(service_url) as conn:
        row = conn.execute(
            "SELECT r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb,"
            " (SELECT count(*) FROM pg_class WHERE relowner = r.oid)"
            " + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid)"
            " + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid),"
            " pg_has_role(r.oid, %s, 'USAGE')"
            " FROM pg_roles r WHERE r.rolname = current_user",
            (SERVICE_ROLE,),
        ).fetchone()
    assert row == (False, False, False, False, 0, True)


def test_the_service_role_ingests_applies_and_reports(service_url: str) -> None:
    ingest_as(service_url, *PAYLOADS)
    done = run_cli(
        "status",
        "--json",
        env={"DATABASE_URL": service_url, "BEPRODUCT_SYNC_AUTO_MIGRATE": "false"},
    )
    assert done.returncode == 0, done.stderr
    with psycopg.connect(service_url) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM ops.tracking_plan_style_timeline),"
            " (SELECT count(*) FROM ops.tracking_plan_material_timeline),"
            " (SELECT count(*) FROM ops.import_errors WHERE severity = 'warning'),"
            " (SELECT count(*) FROM ops.enrichment_job),"
            " (SELECT count(*) FROM ops.beproduct_sync_log WHERE status = 'applied'),"
            " (SELECT count(*) FROM ops.tracking_plan_style_timeline_detail)"
        ).fetchone()
        applied = [r[0] for r in conn.execute("SELECT version FROM ops.schema_migrations")]
    assert counts is not None and counts[0] > 0 and counts[1] > 0 and counts[2] == 1
    assert counts[3] > 0 and counts[4] == len(PAYLOADS) and counts[5] == counts[0]
    assert sorted(applied) == [name.split("_")[0] for name, _ in migration_files()]
    env = {"DATABASE_URL": service_url, "BEPRODUCT_SYNC_AUTO_MIGRATE": "false"}
    for args in (("replay", "--status", "applied", "--dry-run"), ("replay", "--id", "1", "--now")):
        done = run_cli(*args, env=env)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_service_role_claims_and_settles_inbox_rows(service_url: str) -> None:
    q = named_query
    with psycopg.connect(service_url) as conn:
        ids = []
        for n in range(3):
            one = {
                "sha": (uuid.uuid4().bytes * 2).hex(),
                "action": "OnChange",
                "entity_id": str(n),
                "style_number": "S",
                "source_at": None,
                "payload": {"n": n},
                "raw_body": None,
            }
            row = conn.execute(q("log_insert_many"), {"rows": Jsonb([one])}).fetchone()
            assert row is not None and row[1] is True
            ids.append(row[0])
            conn.execute(q("inbox_notify"), {"id": row[0]})
        conn.commit()
        claimed = conn.execute(
            q("worker_claim"), {"worker": "w1", "limit": 10, "lease_seconds": 60, "dead_after": 3}
        ).fetchall()
        assert sorted(r[0] for r in claimed) == ids
        assert (
            len(
                conn.execute(
                    q("worker_renew"), {"ids": ids, "worker": "w1", "lease_seconds": 60}
                ).fetchall()
            )
            == 3
        )
        conn.commit()
        conn.execute("SET LOCAL synchronous_commit = off")
        assert (
            len(conn.execute(q("log_lock_owned"), {"ids": ids[:1], "owner": "w1"}).fetchall()) == 1
        )
        settled = conn.execute(
            q("log_settle"),
            {
                "rows": Jsonb(
                    [
                        {
                            "id": ids[0],
                            "status": "applied",
                            "duration_ms": 1.0,
                            "reason": None,
                            "error": None,
                            "stamp": True,
                            "retry_in": 0,
                            "max_attempts": 8,
                        },
                        {
                            "id": ids[1],
                            "status": "failed",
                            "duration_ms": 1.0,
                            "reason": None,
                            "error": "boom",
                            "stamp": True,
                            "retry_in": 1,
                            "max_attempts": 8,
                        },
                    ]
                )
            },
        ).fetchall()
        assert sorted(settled) == sorted([(ids[0], "applied", 1), (ids[1], "failed", 1)])
        conn.execute(
            q("import_error_insert_many"),
            {
                "rows": Jsonb(
                    [
                        {
                            "sync_log_id": ids[1],
                            "entity_id": "1",
                            "severity": "error",
                            "message": "boom",
                            "attempt": 1,
                        }
                    ]
                )
            },
        )
        assert conn.execute(q("worker_release"), {"ids": ids[2:], "worker": "w1"}).rowcount == 1
        conn.commit()
        conn.execute(
            q("api_token_start"),
            {"client_id": "c", "configured_sha256": b"y" * 32, "configured_token": "t"},
        )
        assert conn.execute("SELECT refresh_token FROM ops.beproduct_api_token").fetchone() == (
            "t",
        )
        statuses: dict[int, str] = dict(
            conn.execute(
                "SELECT id, status FROM ops.beproduct_sync_log WHERE id = ANY (%s)", (ids,)
            )
        )
    assert statuses == {ids[0]: "applied", ids[1]: "failed", ids[2]: "pending"}


def test_the_service_role_records_sends_and_settles_change_requests(service_url: str) -> None:
    # Reverse sync's statements, as the sender and the apply hook run them.
    ingest_as(service_url, *PAYLOADS)
    milestone = "0f492c0a-f892-4eac-a278-5b4e29a3b044"
    with psycopg.connect(service_url, autocommit=True) as conn:
        row = conn.execute(
            named_query("outbox_request"),
            {
                "milestone_id": milestone,
                "key": "least-privilege",
                "change": json.dumps({"status": "complete"}),
                "base": None,
                "force": False,
                "by": None,
            },
        ).fetchone()
        assert row is not None
        made = row[0]
        claim = {"limit": 10, "owner": "me", "lease_seconds": 60}
        assert [r[0] for r in conn.execute(named_query("outbox_claim"), claim)] == [made["id"]]
        assert conn.execute(named_query("outbox_current"), {"ids": [milestone]}).fetchall()
        conn.execute(named_query("outbox_ours"), {"ids": [made["id"]]}).fetchall()
        renew = {"ids": [made["id"]], "owner": "me", "lease_seconds": 60}
        assert conn.execute(named_query("outbox_renew"), renew).fetchall() == [(made["id"],)]
        sent = json.dumps([{"id": made["id"], "state": "sent"}])
        settle = {"rows": sent, "owner": "me", "from_state": "sending"}
        assert conn.execute(named_query("outbox_settle"), settle).fetchall() == [
            (made["id"], "sent")
        ]
        unconfirmed = {**claim, "window_seconds": 3600}
        assert conn.execute(named_query("outbox_claim_unconfirmed"), unconfirmed).fetchall() == []
        echo = [
            {
                "log_id": 1,
                "id": milestone,
                "status": "COMPLETE",
                "assignees": [],
                "share": [],
                "at": "2099-01-01T00:00:00Z",
            }
        ]
        confirmed = conn.execute(
            named_query("outbox_confirm_events"), {"rows": json.dumps(echo)}
        ).fetchall()
        assert confirmed == [(made["id"], 1)]
        counted: dict[str, int] = dict(conn.execute(named_query("outbox_state_counts")).fetchall())
        assert counted == {"confirmed": 1}
        listed = {"states": [], "ids": [], "limit": 5}
        assert len(conn.execute(named_query("outbox_list"), listed).fetchall()) == 1
        assert (
            conn.execute(
                named_query("outbox_retry"), {"ids": [made["id"]], "force": False}
            ).fetchall()
            == []
        )


def test_only_the_service_roles_may_record_change_requests_through_the_rest_api(
    supabase_db: Database,
) -> None:
    ingest_as(supabase_db.owner, *PAYLOADS)
    call = (
        "SELECT ops_api.request_timeline_change("
        "'0f492c0a-f892-4eac-a278-5b4e29a3b044', %s, '{\"status\": \"na\"}')"
    )
    with acting_as(supabase_db.superuser, "service_role") as conn:
        row = conn.execute(call, ("rest-1",)).fetchone()
        assert row is not None and row[0]["created"] is True
    for role in ("anon", "authenticated"):
        claims = {"role": role, "app_metadata": {"beproduct_sync_reader": True}}
        with (
            acting_as(supabase_db.superuser, role, claims) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute(call, (f"rest-{role}",))


def test_the_service_role_runs_the_versioned_upserts(service_url: str) -> None:
    # The apply statements for material rows, with table names filled in as the store does.
    tables = {
        "record_table": sql.Identifier("ops", "tracking_plan_material"),
        "timeline_table": sql.Identifier("ops", "tracking_plan_material_timeline"),
        "assignment_table": sql.Identifier("ops", "tracking_material_timeline_assignment"),
        "parent_column": sql.Identifier("plan_material_id"),
    }
    plan, record, milestone = (str(uuid.uuid4()) for _ in range(3))
    people = [str(uuid.uuid4()) for _ in range(2)]

    def milestones(version: int, assignee: str) -> dict[str, Any]:
        return {
            "rows": Jsonb(
                [
                    {
                        "id": milestone,
                        "parent_id": record,
                        "template_item_id": None,
                        "status": "IN_PROGRESS",
                        "status_label": "In Progress",
                        "source_version": version,
                        "assignees": [{"assignee_id": assignee, "assignee_name": "A"}],
                    }
                ]
            )
        }

    with psycopg.connect(service_url) as conn:
        conn.execute(named_query("apply_plan"), {"id": plan, "folder_id": None})
        written = conn.execute(
            sql.SQL(named_query("apply_record")).format(**tables),
            {
                "rows": Jsonb(
                    [
                        {
                            "id": record,
                            "plan_id": plan,
                            "header_version": 1,
                            "record_version": 1,
                            "lifecycle_version": 1,
                            "active": True,
                        }
                    ]
                )
            },
        )
        assert written.fetchall() == [(record,)]
        apply_milestones = sql.SQL(named_query("apply_milestones")).format(**tables)
        for version, assignee in ((1, people[0]), (2, people[1])):  # the second one deletes
            conn.execute(apply_milestones, milestones(version, assignee))
        assigned = conn.execute(
            "SELECT assignee_id::text FROM ops.tracking_material_timeline_assignment"
        ).fetchall()
    assert assigned == [(people[1],)]


@contextmanager
def fake_beproduct() -> Iterator[dict[str, str]]:
    """`beproduct-sync fake-beproduct` on a free port; yields the settings it prints."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "beproduct_sync",
            "fake-beproduct",
            "--port",
            "0",
            "--folders",
            "1",
            "--plans",
            "2",
            "--styles",
            "3",
            "--milestones",
            "3",
            "--materials",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        settings: dict[str, str] = {}
        while not {"BEPRODUCT_API_URL", "BEPRODUCT_TOKEN_URL", "BEPRODUCT_REFRESH_TOKEN"} <= set(
            settings
        ):
            line = proc.stdout.readline()
            assert line, "fake-beproduct stopped"
            name, _, value = line.strip().partition("=")
            settings[name] = value
        yield settings
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_the_service_role_enriches_backfills_and_reconciles(service_url: str) -> None:
    with fake_beproduct() as api:
        env = {
            **api,
            "DATABASE_URL": service_url,
            "BEPRODUCT_SYNC_AUTO_MIGRATE": "false",
            "BEPRODUCT_API_MAX_RETRIES": "1",
        }
        ingest_as(service_url, str(sample_path(SAMPLE_NAMES[0])))  # queues enrichment jobs
        with psycopg.connect(service_url) as conn:
            assert conn.execute("SELECT count(*) FROM ops.enrichment_job").fetchone() != (0,)
        worker = subprocess.Popen(
            [sys.executable, "-m", "beproduct_sync", "worker"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                with psycopg.connect(service_url) as conn:
                    row = conn.execute(
                        "SELECT (SELECT count(*) FROM ops.enrichment_job),"
                        " (SELECT p.name FROM ops.tracking_plan p JOIN ops.tracking_plan_style s"
                        "  ON s.plan_id = p.id WHERE s.style_number = 'MSP26O73' LIMIT 1)"
                    ).fetchone()
                if (row is not None and row[0] == 0) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        finally:
            worker.send_signal(signal.SIGTERM)
            _, err = worker.communicate(timeout=60)
        assert row is not None and row[0] == 0, err
        assert row[1], "the sample's plan was not enriched"
        assert worker.returncode == 0, err
        for args in (("backfill", "--json"), ("reconcile", "--fix"), ("reconcile",)):
            done = run_cli(*args, env=env)
            assert done.returncode == 0, done.stdout + done.stderr
    with psycopg.connect(service_url) as conn:
        assert conn.execute("SELECT count(*) FROM ops.beproduct_api_token").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM ops.backfill_checkpoint").fetchone() != (0,)


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE ops.beproduct_sync_log ADD COLUMN x int",
        "ALTER TABLE ops.tracking_plan_style DISABLE ROW LEVEL SECURITY",
        "DROP TABLE ops.tracking_plan_style_timeline",
        "DROP VIEW ops.tracking_plan_style_timeline_detail",
        "DROP POLICY beproduct_sync_service_all ON ops.beproduct_sync_log",
        "TRUNCATE ops.import_errors",
        "DELETE FROM ops.beproduct_sync_log",
        "DELETE FROM ops.import_errors",
        "DELETE FROM ops.tracking_plan_style",
        "CREATE TABLE ops.intruder (id int)",
        "CREATE INDEX ON ops.beproduct_sync_log (action)",
        "CREATE SCHEMA intruder",
        "CREATE OR REPLACE FUNCTION ops.can_read_tracking() RETURNS boolean"
        " LANGUAGE sql AS 'SELECT true'",
        "ALTER ROLE beproduct_sync_service BYPASSRLS",
        "CREATE ROLE intruder",
    ],
)
def test_the_service_role_cannot_change_the_schema_or_erase_the_audit_trail(
    service_url: str,
    statement: str,
) -> None:
    with psycopg.connect(service_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement.encode())


# --- roles that may not create roles -------------------------------------------------------


def test_a_migrating_role_that_may_not_create_roles_gets_a_notice_not_an_error(
    supabase_server: str,
) -> None:
    name = create_database(supabase_server, "sb_norole")
    url = with_db(supabase_server, name)
    notices: list[str] = []
    try:
        with psycopg.connect(url) as conn:
            conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
            conn.execute("CREATE ROLE plain_owner NOCREATEROLE")
            conn.execute(f'ALTER DATABASE "{name}" OWNER TO plain_owner'.encode())
            # The group role exists cluster-wide once any database was migrated (in whatever
            # order the tests ran): hide it in this transaction (rolled back) to see what a
            # first migration without it does.
            conn.execute(
                sql.SQL(
                    "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = {}) THEN"
                    " ALTER ROLE {} RENAME TO hidden_service; END IF; END $$"
                ).format(sql.Literal(SERVICE_ROLE), sql.Identifier(SERVICE_ROLE))
            )
            conn.execute(DATABASE_SQL.encode())
            conn.execute("SET ROLE plain_owner")
            for _, text in migration_files():
                conn.execute(text.encode())
            conn.execute("RESET ROLE")
            rls = conn.execute(
                "SELECT bool_and(relrowsecurity) FROM pg_class c JOIN pg_namespace n"
                " ON n.oid = c.relnamespace WHERE n.nspname = 'ops' AND c.relkind = 'r'"
            ).fetchone()
            service_policies = conn.execute(
                "SELECT count(*) FROM pg_policies WHERE policyname = 'beproduct_sync_service_all'"
            ).fetchone()
            readers = conn.execute(
                "SELECT count(*) FROM pg_policies WHERE 'authenticated' = ANY (roles)"
            ).fetchone()
            conn.rollback()
    finally:
        drop_database(supabase_server, name)
        with psycopg.connect(supabase_server, autocommit=True) as conn:
            conn.execute("DROP ROLE IF EXISTS plain_owner")
    assert any("beproduct_sync_service not created" in n for n in notices), notices
    assert rls == (True,)
    assert service_policies == (0,)
    assert readers == (len(TRACKING_TABLES) + 1,)  # and ops.read_settings


# --- (d) idempotence -----------------------------------------------------------------------


def test_applying_every_migration_again_changes_nothing_on_plain_postgres(
    empty_db_url: str,
) -> None:
    before_schemas = user_schemas(empty_db_url)
    migrations.migrate(empty_db_url)
    ours = user_schemas(empty_db_url) - before_schemas
    first = security_snapshot(empty_db_url, ours)
    assert migrations.migrate(empty_db_url) == []
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        for _, text in migration_files():
            conn.execute(text.encode())
    assert security_snapshot(empty_db_url, ours) == first


def test_applying_every_migration_again_changes_nothing_on_supabase(
    supabase_db: Database,
) -> None:
    first = security_snapshot(supabase_db.superuser, set(supabase_db.schemas))
    with psycopg.connect(supabase_db.owner, autocommit=True) as conn:
        for _, text in migration_files():
            conn.execute(text.encode())
    assert security_snapshot(supabase_db.superuser, set(supabase_db.schemas)) == first
    # An edited view (CREATE OR REPLACE without options) would have lost security_invoker.
    assert lint(supabase_db, "security_definer_view") == []


def test_migration_files_are_named_as_supabase_expects() -> None:
    names = [name for name, _ in migration_files()]
    assert all(
        Path(n).stem.split("_", 1)[0].isdigit() and len(n.split("_", 1)[0]) == 14 for n in names
    ), names

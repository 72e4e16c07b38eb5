"""A PostgreSQL cluster that looks like a Supabase project to the migrations, and the security
advisor's lints as catalog queries.

Supabase's roles are cluster-wide, so they live in a private cluster started for the tests that
need them: creating `anon` or `authenticated` on a shared server would change what every other
database on it gets from the migrations.

The lint queries mirror the conditions of Supabase's advisor (the `splinter` project, one view
per lint under `lints/NNNN_<name>.sql`), restricted to the schemas our migrations create (its
lists of excluded schemas never contain ours, so they are left out). Each returns one row per
offending object; the tests expect none, except where a test says why.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from beproduct_sync import db

# Like a Supabase project: API roles PostgREST switches to (NOLOGIN, NOINHERIT), service_role
# bypassing RLS, and a non-superuser owner that may create roles (Supabase's `postgres`).
CLUSTER_SQL = """
CREATE ROLE anon NOLOGIN NOINHERIT;
CREATE ROLE authenticated NOLOGIN NOINHERIT;
CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
CREATE ROLE authenticator LOGIN NOINHERIT;
GRANT anon, authenticated, service_role TO authenticator;
CREATE ROLE migration_owner LOGIN CREATEROLE NOSUPERUSER;
"""

# Per database, as a superuser: Supabase's auth helpers read the claims PostgREST sets per
# request; the public schema's default privileges give API roles every new table there.
DATABASE_SQL = """
CREATE SCHEMA auth;
CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                    nullif(current_setting('request.jwt.claims', true), ''))::jsonb
$$;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT nullif(auth.jwt() ->> 'sub', '')::uuid
$$;
CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT auth.jwt() ->> 'role'
$$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE migration_owner IN SCHEMA public
    GRANT ALL ON TABLES TO anon, authenticated, service_role;
"""

# What Supabase's guide to custom schemas tells users to run to expose a schema: broad grants,
# leaving RLS to protect the rows.
EXPOSE_RECIPE_SQL = """
GRANT USAGE ON SCHEMA ops TO anon, authenticated, service_role;
GRANT ALL ON ALL TABLES IN SCHEMA ops TO anon, authenticated, service_role;
GRANT ALL ON ALL ROUTINES IN SCHEMA ops TO anon, authenticated, service_role;
GRANT ALL ON ALL SEQUENCES IN SCHEMA ops TO anon, authenticated, service_role;
"""

SERVICE_ROLE = "beproduct_sync_service"


def with_db(url: str, name: str, user: str | None = None) -> str:
    """`url` pointing at database `name`, optionally as another user."""
    extra = {"user": user} if user else {}
    return make_conninfo(url, dbname=name, **extra)


def as_user(url: str, user: str) -> str:
    """`url` as another user (same database)."""
    return make_conninfo(url, user=user)


@contextmanager
def service_login(admin_url: str, app_db_url: str) -> Iterator[str]:
    """A new login role, member of the service's group role, created through `admin_url`;
    yields `app_db_url` as that role."""
    name = f"bps_app_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(SERVICE_ROLE), sql.Identifier(name))
        )
    try:
        yield make_conninfo(app_db_url, user=name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@contextmanager
def login_role(admin_url: str, app_db_url: str) -> Iterator[str]:
    """A new login role that owns nothing and belongs to no group; yields `app_db_url` as it."""
    name = f"bps_nobody_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
    try:
        yield make_conninfo(app_db_url, user=name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def dbname(url: str) -> str:
    """The database a URL points at."""
    return str(conninfo_to_dict(url)["dbname"])


def user_schemas(url: str) -> set[str]:
    """Schemas other than PostgreSQL's own."""
    with psycopg.connect(url) as conn:
        return {
            r[0]
            for r in conn.execute(
                "SELECT nspname FROM pg_namespace"
                " WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'"
            )
        }


@contextmanager
def private_cluster() -> Iterator[str]:
    """A new PostgreSQL cluster with Supabase's roles; yields its superuser URL."""
    root = Path(tempfile.mkdtemp(prefix="bps-supabase-"))
    try:
        url = db.embedded_url(root)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(CLUSTER_SQL)
        yield url
    finally:
        db.stop_embedded(root)
        shutil.rmtree(root, ignore_errors=True)


def create_database(
    server: str, prefix: str, *, owner: str | None = None, template: str | None = None
) -> str:
    """A new database on `server`; returns its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    clauses = (f' TEMPLATE "{template}"' if template else "") + (
        f' OWNER "{owner}"' if owner else ""
    )
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{clauses}'.encode())
    return name


def drop_database(server: str, name: str) -> None:
    """Drop a database made by create_database()."""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def migration_files() -> list[tuple[str, str]]:
    """(file name, SQL) of every bundled migration, in order."""
    files = resources.files("beproduct_sync.migrations")
    return sorted((f.name, f.read_text()) for f in files.iterdir() if f.name.endswith(".sql"))


def named_query(name: str) -> str:
    """The text of a named query in the package's sql/ folder."""
    return resources.files("beproduct_sync.sql").joinpath(f"{name}.sql").read_text()


# --- Supabase's advisor, as catalog queries -------------------------------------------------
# Parameters: %(schemas)s = our schemas. Queries that depend on which schemas the REST API
# exposes read pgrst.db_schemas, as the advisor does; the caller sets it.

EXPOSED = (
    "n.nspname = ANY (array(SELECT trim(unnest(string_to_array("
    "current_setting('pgrst.db_schemas', true), ',')))))"
)
API_CAN_SELECT = (
    "(has_table_privilege('anon', c.oid, 'SELECT')"
    " OR has_table_privilege('authenticated', c.oid, 'SELECT'))"
)

LINTS: dict[str, str] = {
    # 0013 (ERROR): a table in an exposed schema that an API role can select, without RLS.
    "rls_disabled_in_public": f"""
        SELECT n.nspname || '.' || c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND NOT c.relrowsecurity AND {API_CAN_SELECT} AND {EXPOSED}
          AND n.nspname = ANY (%(schemas)s)""",
    # 0007 (ERROR): policies on a table whose RLS is off (extension-owned tables excepted).
    "policy_exists_rls_disabled": """
        SELECT DISTINCT n.nspname || '.' || c.relname
        FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_depend dep ON dep.objid = c.oid AND dep.deptype = 'e'
        WHERE c.relkind = 'r' AND NOT c.relrowsecurity AND dep.objid IS NULL
          AND n.nspname = ANY (%(schemas)s)""",
    # 0008 (INFO): RLS enabled and not a single policy, whoever may reach the table.
    "rls_enabled_no_policy": """
        SELECT n.nspname || '.' || c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_policy p ON p.polrelid = c.oid
        LEFT JOIN pg_depend dep ON dep.objid = c.oid AND dep.deptype = 'e'
        WHERE c.relkind = 'r' AND c.relrowsecurity AND p.polname IS NULL AND dep.objid IS NULL
          AND n.nspname = ANY (%(schemas)s)""",
    # 0010 (ERROR): an exposed view an API role can select that is not security_invoker
    # (PostgreSQL 15+, where the option exists).
    "security_definer_view": f"""
        SELECT n.nspname || '.' || c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_depend dep ON dep.objid = c.oid AND dep.deptype = 'e'
        WHERE c.relkind = 'v' AND {API_CAN_SELECT}
          AND current_setting('server_version_num')::int >= 150000
          AND {EXPOSED} AND dep.objid IS NULL
          AND NOT (lower(coalesce(c.reloptions::text, '{{}}'))::text[] && ARRAY[
              'security_invoker=1', 'security_invoker=true', 'security_invoker=yes',
              'security_invoker=on'])
          AND n.nspname = ANY (%(schemas)s)""",
    # 0011 (WARN): a function without search_path among its settings.
    "function_search_path_mutable": """
        SELECT n.nspname || '.' || p.proname
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        LEFT JOIN pg_depend dep ON dep.objid = p.oid AND dep.deptype = 'e'
        WHERE dep.objid IS NULL
          AND NOT EXISTS (SELECT 1 FROM unnest(coalesce(p.proconfig, '{}')) AS config
                          WHERE config LIKE 'search_path=%%')
          AND n.nspname = ANY (%(schemas)s)""",
    # 0023 (ERROR): an exposed table without RLS that an API role can select, with a column
    # named like a credential or personal data (the advisor's list of names).
    "sensitive_columns_exposed": f"""
        SELECT n.nspname || '.' || c.relname || '.' || a.attname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE c.relkind = 'r' AND {API_CAN_SELECT} AND {EXPOSED} AND NOT c.relrowsecurity
          AND replace(lower(a.attname), '-', '_') = ANY (%(sensitive)s)
          AND n.nspname = ANY (%(schemas)s)""",
    # 0003 (WARN, performance): current_setting() or auth.<fn>() in a policy, not wrapped in a
    # SELECT, is evaluated for every row.
    "auth_rls_initplan": r"""
        SELECT p.schemaname || '.' || p.tablename || ':' || p.policyname
        FROM pg_policies p
        JOIN pg_class c ON c.relname = p.tablename
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = p.schemaname
        WHERE c.relrowsecurity AND p.schemaname = ANY (%(schemas)s)
          AND EXISTS (
              SELECT 1 FROM unnest(ARRAY[p.qual, p.with_check]) AS e(expr),
                   unnest(ARRAY['auth.uid()', 'auth.jwt()', 'auth.role()', 'auth.email()'])
                       AS f(fn)
              WHERE (e.expr LIKE '%%' || f.fn || '%%'
                     AND lower(e.expr) NOT LIKE '%%select ' || f.fn || '%%')
                 OR (e.expr LIKE '%%current\_setting(%%)%%'
                     AND lower(e.expr) NOT LIKE '%%select current\_setting(%%)%%'))""",
    # 0006 (WARN, performance): two permissive policies for one role and action (roles that
    # bypass RLS, pg_* and supabase*admin roles aside).
    "multiple_permissive_policies": """
        SELECT n.nspname || '.' || c.relname || ':' || r.rolname || ':' || act.cmd
        FROM pg_policy p
        JOIN pg_class c ON c.oid = p.polrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_roles r ON p.polroles @> ARRAY[r.oid] OR p.polroles = ARRAY[0::oid]
        CROSS JOIN LATERAL unnest(CASE p.polcmd
            WHEN 'r' THEN ARRAY['SELECT'] WHEN 'a' THEN ARRAY['INSERT']
            WHEN 'w' THEN ARRAY['UPDATE'] WHEN 'd' THEN ARRAY['DELETE']
            ELSE ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'] END) AS act(cmd)
        WHERE c.relkind = 'r' AND p.polpermissive AND r.rolname NOT LIKE 'pg\\_%%'
          AND r.rolname NOT LIKE 'supabase%%admin' AND NOT r.rolbypassrls
          AND n.nspname = ANY (%(schemas)s)
        GROUP BY n.nspname, c.relname, r.rolname, act.cmd
        HAVING count(*) > 1""",
    # 0015 (ERROR): a policy that trusts user_metadata, which users may edit.
    "rls_references_user_metadata": """
        SELECT schemaname || '.' || tablename || ':' || policyname FROM pg_policies
        WHERE schemaname = ANY (%(schemas)s)
          AND (qual LIKE '%%auth.jwt()%%user_metadata%%'
               OR qual LIKE '%%current_setting(%%request.jwt.claims%%)%%user_metadata%%'
               OR with_check LIKE '%%auth.jwt()%%user_metadata%%'
               OR with_check LIKE '%%current_setting(%%request.jwt.claims%%)%%user_metadata%%')""",
    # 0024 (WARN): an always-true permissive policy for anon, authenticated or PUBLIC on
    # writes (SELECT with true is deliberately not flagged by the advisor).
    "rls_policy_always_true": """
        SELECT p.schemaname || '.' || p.tablename || ':' || p.policyname
        FROM pg_policies p
        JOIN pg_class c ON c.relname = p.tablename
        JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = p.schemaname
        WHERE c.relrowsecurity AND p.permissive = 'PERMISSIVE'
          AND p.roles && ARRAY['public', 'anon', 'authenticated']::name[]
          AND p.schemaname = ANY (%(schemas)s)
          AND ((p.cmd IN ('UPDATE', 'DELETE', 'ALL')
                AND (replace(lower(coalesce(p.qual, '')), ' ', '')
                         IN ('true', '(true)', '1=1', '(1=1)') OR p.qual IS NULL))
               OR replace(lower(coalesce(p.with_check, '')), ' ', '')
                      IN ('true', '(true)', '1=1', '(1=1)')
               OR (p.with_check IS NULL AND p.cmd = 'INSERT'))""",
    # 0028 / 0029 (WARN): SECURITY DEFINER functions in an exposed schema that anon or
    # authenticated may execute.
    "security_definer_function_executable": f"""
        SELECT n.nspname || '.' || p.proname FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.prosecdef AND {EXPOSED}
          AND (has_function_privilege('anon', p.oid, 'EXECUTE')
               OR has_function_privilege('authenticated', p.oid, 'EXECUTE'))
          AND n.nspname = ANY (%(schemas)s)""",
    # 0026 (WARN, when pg_graphql is installed): objects anon can see in the GraphQL schema
    # (any selectable column of a table, view, materialized view or foreign table).
    "pg_graphql_anon_table_exposed": """
        SELECT n.nspname || '.' || c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'v', 'm', 'f') AND n.nspname = ANY (%(schemas)s)
          AND EXISTS (SELECT 1 FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                        AND has_column_privilege('anon', c.oid, a.attnum, 'SELECT'))""",
    # 0027 (WARN, when pg_graphql is installed): the same for authenticated. Signed-in readers
    # are a requirement, so the objects they may read are expected here (see the test).
    "pg_graphql_authenticated_table_exposed": """
        SELECT n.nspname || '.' || c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'v', 'm', 'f') AND n.nspname = ANY (%(schemas)s)
          AND EXISTS (SELECT 1 FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                        AND has_column_privilege('authenticated', c.oid, a.attnum, 'SELECT'))""",
}

# The advisor's list of sensitive column names (0023_sensitive_columns_exposed).
SENSITIVE_NAMES = [
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "secret_key",
    "private_key",
    "api_key",
    "apikey",
    "auth_key",
    "token",
    "jwt",
    "access_token",
    "refresh_token",
    "oauth_token",
    "session_token",
    "bearer_token",
    "auth_code",
    "session_id",
    "session_key",
    "session_secret",
    "recovery_code",
    "backup_code",
    "verification_code",
    "otp",
    "two_factor",
    "2fa_secret",
    "2fa_code",
    "ssn",
    "social_security",
    "social_security_number",
    "driver_license",
    "drivers_license",
    "license_number",
    "passport_number",
    "passport_id",
    "national_id",
    "tax_id",
    "credit_card",
    "card_number",
    "cvv",
    "cvc",
    "cvn",
    "bank_account",
    "account_number",
    "routing_number",
    "iban",
    "swift_code",
    "bic",
    "health_record",
    "medical_record",
    "patient_id",
    "insurance_number",
    "health_insurance",
    "medical_insurance",
    "treatment",
    "mac_address",
    "macaddr",
    "imei",
    "device_uuid",
    "pgp_key",
    "gpg_key",
    "ssh_key",
    "certificate",
    "license_key",
    "activation_key",
    "facial_recognition",
]


def run_lint(url: str, name: str, schemas: set[str], exposed: set[str]) -> list[str]:
    """Objects of `schemas` that lint `name` reports, with `exposed` as the API's schemas."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "SELECT set_config('pgrst.db_schemas', %s, false)", (",".join(sorted(exposed)),)
        )
        rows = conn.execute(
            LINTS[name].encode(), {"schemas": sorted(schemas), "sensitive": SENSITIVE_NAMES}
        ).fetchall()
    return sorted(str(r[0]) for r in rows)


# --- The security-relevant state of our schemas, to compare two migrations ------------------

SNAPSHOT_QUERIES = (
    """SELECT n.nspname, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
              c.reloptions::text, c.relacl::text, pg_get_userbyid(c.relowner)
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = ANY (%(schemas)s) ORDER BY 1, 2""",
    """SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
              a.attnotnull, a.attacl::text
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = ANY (%(schemas)s) AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY 1, 2, 3""",
    """SELECT schemaname, tablename, policyname, permissive, roles::text, cmd, qual, with_check
       FROM pg_policies WHERE schemaname = ANY (%(schemas)s) ORDER BY 1, 2, 3""",
    """SELECT n.nspname, p.proname, pg_get_functiondef(p.oid), p.proacl::text
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = ANY (%(schemas)s) ORDER BY 1, 2""",
    """SELECT nspname, nspacl::text FROM pg_namespace
       WHERE nspname = ANY (%(schemas)s) ORDER BY 1""",
    """SELECT schemaname, indexname, indexdef FROM pg_indexes
       WHERE schemaname = ANY (%(schemas)s) ORDER BY 1, 2""",
    """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
       WHERE connamespace = ANY (SELECT oid FROM pg_namespace WHERE nspname = ANY (%(schemas)s))
       ORDER BY 1, 2""",
    """SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
              rolbypassrls FROM pg_roles WHERE rolname = 'beproduct_sync_service'""",
)


def security_snapshot(url: str, schemas: set[str]) -> list[list[Any]]:
    """Tables, columns, grants, policies, functions, indexes and roles of `schemas`."""
    with psycopg.connect(url) as conn:
        return [
            conn.execute(q.encode(), {"schemas": sorted(schemas)}).fetchall()
            for q in SNAPSHOT_QUERIES
        ]


# --- `supabase db push`, by the real CLI or the way it does it ------------------------------

_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


def split_statements(text: str) -> list[str]:
    """`text` split into statements as the Supabase CLI does before applying and recording a
    file: at `;` outside quotes, comments and dollar quotes; each trimmed, empty ones dropped
    (comments stay with the statement that follows them)."""
    parts: list[str] = []
    start = i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char in "'\"":
            i += 1
            while i < n and not (text[i] == char and text[i + 1 : i + 2] != char):
                i += 2 if text[i] == char else 1  # a doubled quote stays inside
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            depth = 0
            while i < n:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                    if depth == 0:
                        break
                else:
                    i += 1
        elif (tag := _DOLLAR_TAG.match(text, i)) is not None:
            end = text.find(tag.group(), tag.end())
            i = n if end < 0 else end + len(tag.group())
        elif char == ";":
            parts.append(text[start:i])
            start = i = i + 1
        else:
            i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


PUSH_HISTORY_SQL = """
CREATE SCHEMA IF NOT EXISTS supabase_migrations;
CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (
    version text NOT NULL PRIMARY KEY, statements text[], name text);
"""


def push_like_the_cli(url: str, folder: Path) -> list[str]:
    """Apply the migration files of `folder` not yet in Supabase's history, the way
    `supabase db push` does: each file's statements in one transaction, then its row
    (version, name, statements) in supabase_migrations.schema_migrations. Returns the files."""
    pushed = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(PUSH_HISTORY_SQL.encode())
        known = {
            r[0] for r in conn.execute("SELECT version FROM supabase_migrations.schema_migrations")
        }
        for path in sorted(folder.glob("*.sql")):
            version, _, name = path.stem.partition("_")
            if version in known:
                continue
            statements = split_statements(path.read_text())
            with conn.transaction():
                for statement in statements:
                    conn.execute(statement.encode())
                conn.execute(
                    "INSERT INTO supabase_migrations.schema_migrations (version, name, statements)"
                    " VALUES (%s, %s, %s)",
                    (version, name, statements),
                )
            pushed.append(path.name)
    return pushed


def cli_url(url: str) -> str:
    """`url` as the Supabase CLI takes it: a URL (a socket directory goes in `host=`)."""
    parts = conninfo_to_dict(url)
    host = str(parts.get("host") or "127.0.0.1")
    auth = str(parts.get("user", "postgres"))
    if parts.get("password"):
        auth += f":{parts['password']}"
    where = (
        f"localhost/{parts['dbname']}?host={host}"
        if host.startswith("/")
        else (f"{host}:{parts.get('port', 5432)}/{parts['dbname']}")
    )
    if host.startswith("/") and parts.get("port"):
        where += f"&port={parts['port']}"
    return f"postgresql://{auth}@{where}"


def cli_push(launcher: Path, url: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """`supabase db push` of the project in `workdir` to the database at `url`."""
    return subprocess.run(
        [
            str(launcher),
            "db",
            "push",
            f"--remote={cli_url(url)}",
            "--yes",
            "--workdir",
            str(workdir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

-- Row level security and least privilege. Plain SQL, idempotent; runs on any PostgreSQL 14+ and
-- does its Supabase-specific part only where Supabase's roles (anon, authenticated) exist.
--
-- Who may do what once this has run:
--   * the owner (the role that applies migrations) and BYPASSRLS roles (Supabase's
--     service_role, superusers) are unaffected: owners bypass RLS on their own tables
--     (RLS is enabled, not forced);
--   * beproduct_sync_service, a NOLOGIN group role created here when the migrating role may
--     create roles, holds exactly what `serve`, `worker`, `replay`, `backfill` and `reconcile`
--     need, through grants and one permissive policy per table. Run the service as a login
--     role that owns nothing: `CREATE ROLE app LOGIN PASSWORD '...';
--     GRANT beproduct_sync_service TO app;` (role attributes such as BYPASSRLS are not
--     inherited through membership, policies are: hence policies, not BYPASSRLS);
--   * anon: nothing at all in ops;
--   * authenticated: SELECT on the tracking tables and the two detail views, and only the rows
--     the policy beproduct_sync_reader_select lets through: all of them when
--     ops.can_read_tracking() is true (by default: the JWT claim
--     app_metadata.beproduct_sync_reader is JSON true), none otherwise. Never the inbox, the
--     import errors, the API token or the bookkeeping tables (service-only: RLS on, no grant
--     and no policy for API roles).
-- Table and view names are listed one by one: re-running this file must never widen access to
-- tables a later migration creates. Every new table needs its own ENABLE ROW LEVEL SECURITY,
-- grants and policy (tests/integration/test_supabase.py checks every table in ops).

-- The migrator's own bookkeeping table, created here as well (same definition as the
-- migrator's) so that it gets RLS however the migrations were applied, `supabase db push`
-- included.
CREATE TABLE IF NOT EXISTS ops.schema_migrations (
    version     text PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);

-- The one rule for signed-in readers. Replace this function to change it (for example to check
-- a role claim or an organisation id); re-running this file never overwrites it. JWT claims are
-- read from request.jwt.claims, which PostgREST (Supabase's REST API) sets per request, so the
-- same policies work on plain PostgreSQL, where auth.jwt() does not exist. app_metadata, unlike
-- user_metadata, cannot be changed by the user. Only JSON true counts: a claim of another type
-- never raises a cast error inside a policy.
DO $$
BEGIN
    IF to_regprocedure('ops.can_read_tracking()') IS NULL THEN
        CREATE FUNCTION ops.can_read_tracking() RETURNS boolean
            LANGUAGE sql STABLE SECURITY INVOKER
            SET search_path = ''
            AS $fn$
                SELECT coalesce(
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb
                        -> 'app_metadata' -> 'beproduct_sync_reader') = 'true'::jsonb,
                    false)
            $fn$;
        COMMENT ON FUNCTION ops.can_read_tracking() IS
            'True when the caller may read the ops tracking tables (policy'
            ' beproduct_sync_reader_select); replace it to change the rule.';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION ops.can_read_tracking() FROM PUBLIC;

-- Every ops table gets RLS. Rows stay visible to the owner, who bypasses RLS unforced.
ALTER TABLE ops.tracking_folder ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.tracking_plan ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.tracking_timeline_template_item ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.tracking_plan_style ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.tracking_plan_material ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.tracking_plan_style_timeline ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.tracking_plan_material_timeline ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.tracking_timeline_assignment ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.tracking_material_timeline_assignment ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.beproduct_sync_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.import_errors ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.enrichment_job ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.backfill_run ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.backfill_checkpoint ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.beproduct_api_token ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.schema_migrations ENABLE ROW LEVEL SECURITY;

-- The service's group role. CREATE ROLE is cluster-wide and needs CREATEROLE (Supabase's
-- `postgres` has it); without it, create the role as an administrator
-- (`CREATE ROLE beproduct_sync_service NOLOGIN`) and run this file again.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'beproduct_sync_service') THEN
        BEGIN
            CREATE ROLE beproduct_sync_service
                NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
        EXCEPTION
            WHEN duplicate_object THEN
                NULL;  -- created meanwhile by a concurrent migrator
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'role beproduct_sync_service not created: % may not create'
                    ' roles; the service must connect as the owner until an administrator'
                    ' creates it (CREATE ROLE beproduct_sync_service NOLOGIN) and this'
                    ' migration is run again', current_user;
        END;
    END IF;
END
$$;

-- Grants (reset to exactly this list on every run) and policies (created when missing).
DO $$
DECLARE
    -- table => privileges of the service. DELETE only where the service deletes: assignments
    -- replaced by a newer event, finished enrichment jobs, checkpoints of a restarted backfill.
    -- The inbox and the import errors are an audit trail: never deleted or truncated.
    service_grants constant jsonb := jsonb_build_object(
        'tracking_folder', 'SELECT, INSERT, UPDATE',
        'tracking_plan', 'SELECT, INSERT, UPDATE',
        'tracking_timeline_template_item', 'SELECT, INSERT, UPDATE',
        'tracking_plan_style', 'SELECT, INSERT, UPDATE',
        'tracking_plan_material', 'SELECT, INSERT, UPDATE',
        'tracking_plan_style_timeline', 'SELECT, INSERT, UPDATE',
        'tracking_plan_material_timeline', 'SELECT, INSERT, UPDATE',
        'tracking_timeline_assignment', 'SELECT, INSERT, UPDATE, DELETE',
        'tracking_material_timeline_assignment', 'SELECT, INSERT, UPDATE, DELETE',
        'beproduct_sync_log', 'SELECT, INSERT, UPDATE',
        'import_errors', 'SELECT, INSERT',
        'enrichment_job', 'SELECT, INSERT, UPDATE, DELETE',
        'backfill_run', 'SELECT, INSERT, UPDATE',
        'backfill_checkpoint', 'SELECT, INSERT, UPDATE, DELETE',
        'beproduct_api_token', 'SELECT, INSERT, UPDATE',
        'schema_migrations', 'SELECT'
    );
    -- What signed-in readers may see (rows filtered by ops.can_read_tracking()).
    reader_tables constant text[] := ARRAY[
        'tracking_folder', 'tracking_plan', 'tracking_timeline_template_item',
        'tracking_plan_style', 'tracking_plan_material', 'tracking_plan_style_timeline',
        'tracking_plan_material_timeline', 'tracking_timeline_assignment',
        'tracking_material_timeline_assignment'
    ];
    reader_views constant text[] := ARRAY[
        'tracking_plan_style_timeline_detail', 'tracking_plan_material_timeline_detail'
    ];
    has_service constant boolean :=
        EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'beproduct_sync_service');
    has_anon constant boolean := EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon');
    has_authenticated constant boolean :=
        EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated');
    -- security_invoker views exist from PostgreSQL 15 on.
    invoker_views constant boolean := current_setting('server_version_num')::int >= 150000;
    t text;
    v text;
    seq text;
BEGIN
    -- Views run with the caller's rights, so the tables' RLS applies to readers of the views.
    -- On PostgreSQL 14 a view runs with its owner's rights and would bypass RLS: there API
    -- roles get no access to the views at all (signed-in readers use the tables).
    FOREACH v IN ARRAY reader_views LOOP
        IF invoker_views THEN
            EXECUTE format('ALTER VIEW ops.%I SET (security_invoker = true)', v);
        ELSE
            RAISE NOTICE 'PostgreSQL < 15: view ops.% keeps owner rights; not granted to API'
                ' roles', v;
        END IF;
    END LOOP;

    REVOKE ALL ON SCHEMA ops FROM PUBLIC;
    FOR t IN SELECT jsonb_object_keys(service_grants) LOOP
        EXECUTE format('REVOKE ALL ON ops.%I FROM PUBLIC', t);
    END LOOP;

    IF has_service THEN
        EXECUTE 'GRANT USAGE ON SCHEMA ops TO beproduct_sync_service';
        FOR t IN SELECT jsonb_object_keys(service_grants) LOOP
            EXECUTE format('REVOKE ALL ON ops.%I FROM beproduct_sync_service', t);
            EXECUTE format('GRANT %s ON ops.%I TO beproduct_sync_service',
                           service_grants ->> t, t);
            IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = 'ops'
                           AND tablename = t AND policyname = 'beproduct_sync_service_all') THEN
                EXECUTE format('CREATE POLICY beproduct_sync_service_all ON ops.%I'
                               ' AS PERMISSIVE FOR ALL TO beproduct_sync_service'
                               ' USING (true) WITH CHECK (true)', t);
            END IF;
        END LOOP;
        FOREACH v IN ARRAY reader_views LOOP
            EXECUTE format('GRANT SELECT ON ops.%I TO beproduct_sync_service', v);
        END LOOP;
        FOR seq IN
            SELECT pg_get_serial_sequence(format('ops.%I', x.tbl), 'id')
            FROM (VALUES ('beproduct_sync_log'), ('import_errors')) AS x(tbl)
        LOOP
            EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO beproduct_sync_service', seq);
        END LOOP;
    END IF;

    IF has_anon THEN
        EXECUTE 'REVOKE ALL ON SCHEMA ops FROM anon';
        EXECUTE 'REVOKE ALL ON FUNCTION ops.can_read_tracking() FROM anon';
        FOR t IN SELECT jsonb_object_keys(service_grants) LOOP
            EXECUTE format('REVOKE ALL ON ops.%I FROM anon', t);
        END LOOP;
        FOREACH v IN ARRAY reader_views LOOP
            EXECUTE format('REVOKE ALL ON ops.%I FROM anon', v);
        END LOOP;
        FOR seq IN
            SELECT pg_get_serial_sequence(format('ops.%I', x.tbl), 'id')
            FROM (VALUES ('beproduct_sync_log'), ('import_errors')) AS x(tbl)
        LOOP
            EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM anon', seq);
        END LOOP;
    END IF;

    IF has_authenticated THEN
        -- Earlier migrations granted SELECT on the inbox and the import errors: taken back.
        EXECUTE 'GRANT USAGE ON SCHEMA ops TO authenticated';
        EXECUTE 'GRANT EXECUTE ON FUNCTION ops.can_read_tracking() TO authenticated';
        FOR t IN SELECT jsonb_object_keys(service_grants) LOOP
            EXECUTE format('REVOKE ALL ON ops.%I FROM authenticated', t);
        END LOOP;
        FOREACH v IN ARRAY reader_views LOOP
            EXECUTE format('REVOKE ALL ON ops.%I FROM authenticated', v);
        END LOOP;
        FOR seq IN
            SELECT pg_get_serial_sequence(format('ops.%I', x.tbl), 'id')
            FROM (VALUES ('beproduct_sync_log'), ('import_errors')) AS x(tbl)
        LOOP
            EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM authenticated', seq);
        END LOOP;
        FOREACH t IN ARRAY reader_tables LOOP
            EXECUTE format('GRANT SELECT ON ops.%I TO authenticated', t);
            -- (SELECT ...) makes the rule an init plan: evaluated once per statement, not
            -- per row (Supabase's advisor lint auth_rls_initplan).
            IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = 'ops'
                           AND tablename = t
                           AND policyname = 'beproduct_sync_reader_select') THEN
                EXECUTE format('CREATE POLICY beproduct_sync_reader_select ON ops.%I'
                               ' AS PERMISSIVE FOR SELECT TO authenticated'
                               ' USING ((SELECT ops.can_read_tracking()))', t);
            END IF;
        END LOOP;
        IF invoker_views THEN
            FOREACH v IN ARRAY reader_views LOOP
                EXECUTE format('GRANT SELECT ON ops.%I TO authenticated', v);
            END LOOP;
        END IF;
    END IF;
END
$$;

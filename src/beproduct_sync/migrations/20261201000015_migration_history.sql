-- Our migration history agrees with Supabase's. Plain SQL, idempotent; runs on any
-- PostgreSQL 14+.
--
-- `supabase db push` records the files `beproduct-sync supabase export` writes in
-- supabase_migrations.schema_migrations; beproduct-sync recognises them there by content and
-- records them in ops.schema_migrations too, so both histories agree and nothing runs twice
-- (see src/beproduct_sync/migrations/history.py):
--   * content_key: SHA-256 of the migration without white space and semicolons, which is how a
--     file and the statements the Supabase CLI recorded for it compare equal;
--   * source: 'beproduct-sync' (applied by `beproduct-sync migrate`) or 'supabase' (applied by
--     `supabase db push`, recorded afterwards).
-- The migrator creates the same columns before it records anything (sql/history_prepare.sql).

ALTER TABLE ops.schema_migrations
    ADD COLUMN IF NOT EXISTS content_key text,
    ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'beproduct-sync';

COMMENT ON COLUMN ops.schema_migrations.content_key IS
    'SHA-256 of the migration without white space and semicolons (compares with Supabase''s'
    ' migration history)';
COMMENT ON COLUMN ops.schema_migrations.source IS
    'beproduct-sync: applied by `beproduct-sync migrate`; supabase: applied by `supabase db'
    ' push`, then recorded here';

-- Readiness of a service that runs as a member of beproduct_sync_service counts what
-- `supabase db push` applied, so that role may read Supabase's history (and nothing else of
-- it). The history exists here when `supabase db push` applies this file; when the table
-- belongs to another role, the grant is left to that role (a NOTICE says so).
DO $$
BEGIN
    IF to_regclass('supabase_migrations.schema_migrations') IS NOT NULL
       AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'beproduct_sync_service') THEN
        BEGIN
            GRANT USAGE ON SCHEMA supabase_migrations TO beproduct_sync_service;
            GRANT SELECT ON supabase_migrations.schema_migrations TO beproduct_sync_service;
        EXCEPTION
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'beproduct_sync_service may not read supabase_migrations.'
                    'schema_migrations: % may not grant it; its owner can (GRANT USAGE ON'
                    ' SCHEMA supabase_migrations TO beproduct_sync_service; GRANT SELECT ON'
                    ' supabase_migrations.schema_migrations TO beproduct_sync_service)',
                    current_user;
        END;
    END IF;
END
$$;

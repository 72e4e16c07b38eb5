-- Our migration history table, created or brought up to date before migrations are applied
-- or recorded. Same definition as migrations 20261201000010 and 20261201000015 give it, so it
-- is the same whether `beproduct-sync migrate` or `supabase db push` applied them.
CREATE SCHEMA IF NOT EXISTS ops;
CREATE TABLE IF NOT EXISTS ops.schema_migrations (
    version     text PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE ops.schema_migrations
    ADD COLUMN IF NOT EXISTS content_key text,
    ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'beproduct-sync';

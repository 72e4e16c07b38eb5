-- The BeProduct API refresh token, shared by every process that calls the API (serve, worker,
-- backfill, reconcile). BeProduct rotates refresh tokens and may retire a used one, so the latest
-- must outlive the process that received it: one row per OAuth2 client id.
--
-- THIS TABLE HOLDS A CREDENTIAL. Nothing is granted to `authenticated` or `anon`, and PUBLIC's
-- default access is revoked; only the role that runs the service (the owner) and Supabase's
-- `service_role` may read it.
CREATE TABLE IF NOT EXISTS ops.beproduct_api_token (
    client_id                text PRIMARY KEY,
    -- SHA-256 of the BEPRODUCT_REFRESH_TOKEN this row was started from: when the configured
    -- token changes, the operator issued a new one and the row is reset to it.
    configured_token_sha256  bytea NOT NULL,
    refresh_token            text NOT NULL,
    -- +1 per rotation (and per reset): a delayed write of an older token never wins.
    generation               bigint NOT NULL DEFAULT 0,
    updated_at               timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON ops.beproduct_api_token FROM PUBLIC;

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('REVOKE ALL ON ops.beproduct_api_token FROM %I', r);
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        GRANT SELECT, INSERT, UPDATE ON ops.beproduct_api_token TO service_role;
    END IF;
END
$$;

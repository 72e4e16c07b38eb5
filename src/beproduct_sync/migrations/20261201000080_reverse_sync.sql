-- Reverse sync: milestone changes asked for here and pushed to BeProduct (api/outbox.py).
-- Plain SQL, idempotent; runs on any PostgreSQL 14+ and grants to Supabase's roles only where
-- they exist.
--
-- A change request is a row of ops.timeline_change_request before anything is sent (the
-- outbox): who asked, when, an idempotency key chosen by the client, the change, and the base
-- the requester saw. States:
--   pending → sending (claimed under a lease) → sent (BeProduct answered 2xx) → confirmed
--   (BeProduct's OnChange webhook for our write, or a read-back, shows the requested values);
--   or conflict (BeProduct's data moved since the requester read it; nothing sent), rejected
--   (BeProduct answered 4xx; its message kept), dead (transient failures, retries used up).
-- conflict, rejected and dead can be sent back to pending (`beproduct-sync outbox --retry`).

CREATE SCHEMA IF NOT EXISTS ops_api;

CREATE TABLE IF NOT EXISTS ops.timeline_change_request (
    id                  bigserial PRIMARY KEY,
    idempotency_key     text NOT NULL UNIQUE,
    requested_by        text NOT NULL,
    requested_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    entity_type         text NOT NULL CHECK (entity_type IN ('style', 'material')),
    milestone_id        uuid NOT NULL,
    record_id           uuid NOT NULL,
    plan_id             uuid NOT NULL,
    -- The change as asked (canonical jsonb) and in typed columns. `changes` lists which of
    -- status, rev_date, final_date are set (a date set to NULL clears it).
    change              jsonb NOT NULL,
    changes             text[] NOT NULL DEFAULT '{}',
    status              ops.timeline_status,
    rev_date            date,
    final_date          date,
    assignees_add       uuid[] NOT NULL DEFAULT '{}',
    assignees_remove    uuid[] NOT NULL DEFAULT '{}',
    share_add           uuid[] NOT NULL DEFAULT '{}',
    share_remove        uuid[] NOT NULL DEFAULT '{}',
    force               boolean NOT NULL DEFAULT false,
    -- What the requester saw: {status, rev_date, final_date, source_version, given}; `given`
    -- false means the values were taken from our row when the request was recorded.
    base                jsonb NOT NULL,
    state               text NOT NULL DEFAULT 'pending' CHECK (state IN (
                            'pending', 'sending', 'sent', 'confirmed', 'conflict',
                            'rejected', 'dead')),
    attempts            integer NOT NULL DEFAULT 0,
    claims              integer NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    locked_by           text,
    locked_until        timestamptz,
    sent_at             timestamptz,
    confirmed_at        timestamptz,
    confirmed_by        text CHECK (confirmed_by IN ('echo', 'readback', 'already')),
    confirmed_event_id  bigint,
    conflict            jsonb,
    last_error          text,
    beproduct_response  jsonb,
    updated_at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS timeline_change_request_due_idx
    ON ops.timeline_change_request (next_attempt_at)
    WHERE state IN ('pending', 'sending');
CREATE INDEX IF NOT EXISTS timeline_change_request_open_idx
    ON ops.timeline_change_request (milestone_id, id)
    WHERE state IN ('pending', 'sending', 'sent');
CREATE INDEX IF NOT EXISTS timeline_change_request_sent_idx
    ON ops.timeline_change_request (sent_at)
    WHERE state = 'sent';
CREATE INDEX IF NOT EXISTS timeline_change_request_state_idx
    ON ops.timeline_change_request (state);

ALTER TABLE ops.timeline_change_request ENABLE ROW LEVEL SECURITY;

-- Record a change request; the one way in for SQL, Supabase's REST API (`rpc`), the CLI and the
-- HTTP API. SECURITY INVOKER: the caller needs the grants below. Idempotent on the key: the
-- same key with the same change returns the stored request (created false); with another
-- change it fails with SQLSTATE 23505. Invalid input fails with 22023 and a message saying
-- what is wrong; an unknown milestone with P0002.
CREATE OR REPLACE FUNCTION ops_api.request_timeline_change(
    milestone_id uuid,
    idempotency_key text,
    change jsonb,
    base jsonb DEFAULT NULL,
    force boolean DEFAULT false,
    requested_by text DEFAULT NULL
) RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY INVOKER
SET search_path = ''
AS $fn$
DECLARE
    allowed constant text[] := ARRAY['status', 'rev_date', 'final_date', 'assignees_add',
        'assignees_remove', 'share_add', 'share_remove'];
    k text;
    v jsonb;
    clean jsonb := '{}'::jsonb;
    set_fields text[] := '{}';
    new_status ops.timeline_status;
    new_rev date;
    new_final date;
    lists jsonb := '{}'::jsonb;
    found_kind text;
    found_record uuid;
    found_plan uuid;
    seen jsonb;
    who text;
    row_out ops.timeline_change_request;
    existing ops.timeline_change_request;
BEGIN
    IF milestone_id IS NULL THEN
        RAISE EXCEPTION 'milestone_id is required' USING ERRCODE = '22023';
    END IF;
    IF idempotency_key IS NULL OR length(btrim(idempotency_key)) = 0
            OR length(idempotency_key) > 200 THEN
        RAISE EXCEPTION 'idempotency_key is required (1 to 200 characters)'
            USING ERRCODE = '22023';
    END IF;
    IF change IS NULL OR jsonb_typeof(change) <> 'object' THEN
        RAISE EXCEPTION 'change must be a JSON object' USING ERRCODE = '22023';
    END IF;
    FOR k, v IN SELECT * FROM jsonb_each(change) LOOP
        IF NOT k = ANY (allowed) THEN
            RAISE EXCEPTION 'change has an unknown field %; allowed: %', k,
                array_to_string(allowed, ', ') USING ERRCODE = '22023';
        END IF;
        IF k = 'status' THEN
            IF jsonb_typeof(v) <> 'string' THEN
                RAISE EXCEPTION 'status must be a text such as "approved" (it cannot be cleared)'
                    USING ERRCODE = '22023';
            END IF;
            SELECT e.s INTO new_status
            FROM unnest(enum_range(NULL::ops.timeline_status)) AS e(s)
            WHERE replace(e.s::text, '_', '') = upper(regexp_replace(v #>> '{}', '[^A-Za-z]', '', 'g'));
            IF new_status IS NULL THEN
                RAISE EXCEPTION 'status % is not one of not_started, in_progress, waiting_on, rejected, approved, approved_with_corrections, complete, na',
                    v USING ERRCODE = '22023';
            END IF;
            clean := clean || jsonb_build_object('status', lower(new_status::text));
            set_fields := set_fields || 'status'::text;
        ELSIF k IN ('rev_date', 'final_date') THEN
            IF jsonb_typeof(v) = 'null' THEN
                clean := clean || jsonb_build_object(k, NULL);
            ELSIF jsonb_typeof(v) = 'string' AND (v #>> '{}') ~ '^\d{4}-\d{2}-\d{2}$' THEN
                BEGIN
                    IF k = 'rev_date' THEN
                        new_rev := (v #>> '{}')::date;
                        clean := clean || jsonb_build_object(k, new_rev);
                    ELSE
                        new_final := (v #>> '{}')::date;
                        clean := clean || jsonb_build_object(k, new_final);
                    END IF;
                EXCEPTION WHEN datetime_field_overflow OR invalid_datetime_format THEN
                    RAISE EXCEPTION '% % is not a calendar date', k, v USING ERRCODE = '22023';
                END;
            ELSE
                RAISE EXCEPTION '% must be a date written YYYY-MM-DD, or null to clear it', k
                    USING ERRCODE = '22023';
            END IF;
            set_fields := set_fields || k;
        ELSE
            IF jsonb_typeof(v) <> 'array' OR EXISTS (
                SELECT 1 FROM jsonb_array_elements(v) AS e(x)
                WHERE jsonb_typeof(e.x) <> 'string'
                   OR (e.x #>> '{}') !~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$'
            ) THEN
                RAISE EXCEPTION '% must be a list of user ids (UUIDs)', k USING ERRCODE = '22023';
            END IF;
            lists := lists || jsonb_build_object(k, (
                SELECT coalesce(jsonb_agg(DISTINCT (e.x #>> '{}')::uuid), '[]'::jsonb)
                FROM jsonb_array_elements(v) AS e(x)));
            clean := clean || jsonb_build_object(k, lists -> k);
        END IF;
    END LOOP;
    IF clean = '{}'::jsonb OR NOT (
        set_fields <> '{}' OR EXISTS (SELECT 1 FROM jsonb_each(lists) AS l(k, a)
                                      WHERE jsonb_array_length(l.a) > 0)) THEN
        RAISE EXCEPTION 'change is empty: give status, rev_date, final_date, or people to add or remove'
            USING ERRCODE = '22023';
    END IF;
    IF EXISTS (
        SELECT 1 FROM jsonb_array_elements_text(coalesce(lists -> 'assignees_add', '[]')) a
        JOIN jsonb_array_elements_text(coalesce(lists -> 'assignees_remove', '[]')) r ON a = r
    ) OR EXISTS (
        SELECT 1 FROM jsonb_array_elements_text(coalesce(lists -> 'share_add', '[]')) a
        JOIN jsonb_array_elements_text(coalesce(lists -> 'share_remove', '[]')) r ON a = r
    ) THEN
        RAISE EXCEPTION 'the same person is both added and removed' USING ERRCODE = '22023';
    END IF;
    IF base IS NOT NULL AND jsonb_typeof(base) <> 'object' THEN
        RAISE EXCEPTION 'base must be a JSON object {status, rev_date, final_date, source_version}'
            USING ERRCODE = '22023';
    END IF;

    SELECT 'style', t.plan_style_id, s.plan_id
    INTO found_kind, found_record, found_plan
    FROM ops.tracking_plan_style_timeline t
    JOIN ops.tracking_plan_style s ON s.id = t.plan_style_id
    WHERE t.id = request_timeline_change.milestone_id;
    IF found_kind IS NULL THEN
        SELECT 'material', t.plan_material_id, s.plan_id
        INTO found_kind, found_record, found_plan
        FROM ops.tracking_plan_material_timeline t
        JOIN ops.tracking_plan_material s ON s.id = t.plan_material_id
        WHERE t.id = request_timeline_change.milestone_id;
    END IF;
    IF found_kind IS NULL THEN
        RAISE EXCEPTION 'no milestone % is known here (it must have arrived by webhook or backfill first)',
            milestone_id USING ERRCODE = 'P0002';
    END IF;

    -- The base: what the requester says it saw, else our row as it is now.
    IF found_kind = 'material' THEN
        SELECT jsonb_build_object('status', lower(t.status::text), 'rev_date', t.rev_date,
                                  'final_date', t.final_date,
                                  'source_version', t.source_version::text)
        INTO seen FROM ops.tracking_plan_material_timeline t
        WHERE t.id = request_timeline_change.milestone_id;
    ELSE
        SELECT jsonb_build_object('status', lower(t.status::text), 'rev_date', t.rev_date,
                                  'final_date', t.final_date,
                                  'source_version', t.source_version::text)
        INTO seen FROM ops.tracking_plan_style_timeline t
        WHERE t.id = request_timeline_change.milestone_id;
    END IF;
    IF base IS NULL THEN
        seen := seen || '{"given": false}'::jsonb;
    ELSE
        FOR k, v IN SELECT * FROM jsonb_each(base) LOOP
            IF NOT k IN ('status', 'rev_date', 'final_date', 'source_version') THEN
                RAISE EXCEPTION 'base has an unknown field %; allowed: status, rev_date, final_date, source_version',
                    k USING ERRCODE = '22023';
            END IF;
        END LOOP;
        seen := jsonb_strip_nulls(jsonb_build_object('source_version',
                                                     base ->> 'source_version'))
                || (SELECT coalesce(jsonb_object_agg(b.k, b.v), '{}'::jsonb)
                    FROM jsonb_each(base) AS b(k, v) WHERE b.k <> 'source_version')
                || '{"given": true}'::jsonb;
        IF seen ? 'status' AND jsonb_typeof(seen -> 'status') = 'string' THEN
            seen := seen || jsonb_build_object('status', (
                SELECT lower(e.s::text)
                FROM unnest(enum_range(NULL::ops.timeline_status)) AS e(s)
                WHERE replace(e.s::text, '_', '')
                      = upper(regexp_replace(seen ->> 'status', '[^A-Za-z]', '', 'g'))));
        END IF;
    END IF;

    who := coalesce(
        nullif(btrim(requested_by), ''),
        nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email',
        nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub',
        session_user::text);

    INSERT INTO ops.timeline_change_request AS r (
        idempotency_key, requested_by, entity_type, milestone_id, record_id, plan_id, change,
        changes, status, rev_date, final_date, assignees_add, assignees_remove, share_add,
        share_remove, force, base)
    VALUES (
        idempotency_key, who, found_kind, request_timeline_change.milestone_id, found_record,
        found_plan, clean, set_fields, new_status, new_rev, new_final,
        ARRAY(SELECT jsonb_array_elements_text(coalesce(lists -> 'assignees_add', '[]')))::uuid[],
        ARRAY(SELECT jsonb_array_elements_text(coalesce(lists -> 'assignees_remove', '[]')))::uuid[],
        ARRAY(SELECT jsonb_array_elements_text(coalesce(lists -> 'share_add', '[]')))::uuid[],
        ARRAY(SELECT jsonb_array_elements_text(coalesce(lists -> 'share_remove', '[]')))::uuid[],
        coalesce(force, false), seen)
    ON CONFLICT ON CONSTRAINT timeline_change_request_idempotency_key_key DO NOTHING
    RETURNING * INTO row_out;
    IF row_out.id IS NOT NULL THEN
        PERFORM pg_notify('beproduct_sync_outbox', row_out.id::text);
        RETURN to_jsonb(row_out) || '{"created": true}'::jsonb;
    END IF;
    SELECT * INTO existing FROM ops.timeline_change_request r
    WHERE r.idempotency_key = request_timeline_change.idempotency_key;
    IF existing.milestone_id <> request_timeline_change.milestone_id
            OR existing.change <> clean OR existing.force <> coalesce(force, false) THEN
        RAISE EXCEPTION 'idempotency key % was already used for a different change (request %)',
            idempotency_key, existing.id USING ERRCODE = '23505';
    END IF;
    RETURN to_jsonb(existing) || '{"created": false}'::jsonb;
END
$fn$;
REVOKE ALL ON FUNCTION ops_api.request_timeline_change(uuid, text, jsonb, jsonb, boolean, text)
    FROM PUBLIC;

-- Grants: the service role records, sends and settles requests; Supabase's service_role (the
-- REST API with the service key) may record and read them. Signed-in users and anon get
-- nothing here: let them ask through your own server-side code, or grant deliberately.
DO $$
DECLARE
    seq constant text := pg_get_serial_sequence('ops.timeline_change_request', 'id');
BEGIN
    REVOKE ALL ON ops.timeline_change_request FROM PUBLIC;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'beproduct_sync_service') THEN
        GRANT USAGE ON SCHEMA ops_api TO beproduct_sync_service;
        GRANT SELECT, INSERT, UPDATE ON ops.timeline_change_request TO beproduct_sync_service;
        EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO beproduct_sync_service', seq);
        GRANT EXECUTE ON FUNCTION
            ops_api.request_timeline_change(uuid, text, jsonb, jsonb, boolean, text)
            TO beproduct_sync_service;
        IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = 'ops'
                       AND tablename = 'timeline_change_request'
                       AND policyname = 'beproduct_sync_service_all') THEN
            CREATE POLICY beproduct_sync_service_all ON ops.timeline_change_request
                AS PERMISSIVE FOR ALL TO beproduct_sync_service USING (true) WITH CHECK (true);
        END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        GRANT USAGE ON SCHEMA ops_api TO service_role;
        GRANT SELECT, INSERT ON ops.timeline_change_request TO service_role;
        EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO service_role', seq);
        GRANT EXECUTE ON FUNCTION
            ops_api.request_timeline_change(uuid, text, jsonb, jsonb, boolean, text)
            TO service_role;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        REVOKE ALL ON ops.timeline_change_request FROM anon;
        EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM anon', seq);
        REVOKE ALL ON FUNCTION
            ops_api.request_timeline_change(uuid, text, jsonb, jsonb, boolean, text) FROM anon;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        REVOKE ALL ON ops.timeline_change_request FROM authenticated;
        EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM authenticated', seq);
        REVOKE ALL ON FUNCTION
            ops_api.request_timeline_change(uuid, text, jsonb, jsonb, boolean, text)
            FROM authenticated;
    END IF;
END
$$;

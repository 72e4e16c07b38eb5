-- beproduct-sync core schema: the ops tables of schema-contract.md, the event inbox and the
-- audit trail. Plain SQL, idempotent (every object is created only when missing), so it can be
-- applied by `beproduct-sync migrate`, by `supabase db push`, or twice by hand without harm.
--
-- Versioning: every group of fields that one kind of event carries has its own *_version
-- column holding the source version of the event that last wrote it (see mapping.source_version:
-- 100-ns ticks of the event's `date`, scaled, plus a hash tie-break). A write wins only when its
-- version is strictly greater, so events apply in any order with the same final result, and a
-- NULL version means "never written by an event that knew these fields".

CREATE SCHEMA IF NOT EXISTS ops;

DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'ops' AND t.typname = 'timeline_status'
    ) THEN
        CREATE TYPE ops.timeline_status AS ENUM (
            'NOT_STARTED', 'IN_PROGRESS', 'APPROVED', 'APPROVED_WITH_CORRECTIONS',
            'REJECTED', 'COMPLETE', 'WAITING_ON', 'NA'
        );
    END IF;
END
$$;

CREATE TABLE IF NOT EXISTS ops.tracking_folder (
    id            uuid PRIMARY KEY,
    name          text,
    brand         text,
    active        boolean NOT NULL DEFAULT true,
    raw_payload   jsonb,
    enriched_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS ops.tracking_plan (
    id              uuid PRIMARY KEY,
    folder_id       uuid REFERENCES ops.tracking_folder (id),
    name            text,
    description     text,
    start_date      date,
    end_date        date,
    active          boolean NOT NULL DEFAULT true,
    raw_payload     jsonb,
    enriched_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tracking_plan_folder_idx ON ops.tracking_plan (folder_id);

CREATE TABLE IF NOT EXISTS ops.tracking_timeline_template_item (
    id              uuid PRIMARY KEY,
    plan_id         uuid REFERENCES ops.tracking_plan (id),
    name            text,
    short_name      text,
    department      text,
    page_name       text,
    master_folder   text,
    raw_payload     jsonb,
    source_version  numeric,
    enriched_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tracking_timeline_template_item_plan_idx
    ON ops.tracking_timeline_template_item (plan_id);

-- Style-in-plan and material-in-plan records share one shape.
-- header_*: fields every event carries; record_*: fields only a full record (OnCreate /
-- OnDelete) carries; lifecycle_*: active / deleted_at, written only by OnCreate and OnDelete.
CREATE TABLE IF NOT EXISTS ops.tracking_plan_style (
    id                 uuid PRIMARY KEY,
    plan_id            uuid NOT NULL REFERENCES ops.tracking_plan (id),
    company_id         uuid,
    style_header_id    uuid,
    style_number       text,
    style_name         text,
    header_folder_id   uuid,
    header_folder_name text,
    color_id           text,
    color_name         text,
    color_number       text,
    size               text,
    supplier_name      text,
    suppliers          jsonb,
    modified_at        timestamptz,
    modified_by        text,
    active             boolean NOT NULL DEFAULT true,
    deleted_at         timestamptz,
    source_updated_at  timestamptz,
    raw_payload        jsonb,
    header_version     numeric,
    record_version     numeric,
    lifecycle_version  numeric,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tracking_plan_style_plan_idx ON ops.tracking_plan_style (plan_id);
CREATE INDEX IF NOT EXISTS tracking_plan_style_header_idx ON ops.tracking_plan_style (style_header_id);

CREATE TABLE IF NOT EXISTS ops.tracking_plan_material (
    LIKE ops.tracking_plan_style INCLUDING DEFAULTS,
    PRIMARY KEY (id),
    FOREIGN KEY (plan_id) REFERENCES ops.tracking_plan (id)
);
CREATE INDEX IF NOT EXISTS tracking_plan_material_plan_idx ON ops.tracking_plan_material (plan_id);

CREATE TABLE IF NOT EXISTS ops.tracking_plan_style_timeline (
    id                 uuid PRIMARY KEY,
    plan_style_id      uuid NOT NULL REFERENCES ops.tracking_plan_style (id),
    template_item_id   uuid REFERENCES ops.tracking_timeline_template_item (id),
    status             ops.timeline_status,
    status_label       text,
    plan_date          date,
    due_date           date,
    rev_date           date,
    final_date         date,
    plan_at            timestamptz,
    due_at             timestamptz,
    rev_at             timestamptz,
    final_at           timestamptz,
    late               boolean,
    submits_quantity   integer,
    shared_with        jsonb NOT NULL DEFAULT '[]'::jsonb,
    assigned_to        jsonb NOT NULL DEFAULT '[]'::jsonb,
    source_updated_at  timestamptz,
    raw_payload        jsonb,
    source_version     numeric,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tracking_plan_style_timeline_style_idx
    ON ops.tracking_plan_style_timeline (plan_style_id);
CREATE INDEX IF NOT EXISTS tracking_plan_style_timeline_template_idx
    ON ops.tracking_plan_style_timeline (template_item_id);

CREATE TABLE IF NOT EXISTS ops.tracking_plan_material_timeline (
    id                 uuid PRIMARY KEY,
    plan_material_id   uuid NOT NULL REFERENCES ops.tracking_plan_material (id),
    template_item_id   uuid REFERENCES ops.tracking_timeline_template_item (id),
    status             ops.timeline_status,
    status_label       text,
    plan_date          date,
    due_date           date,
    rev_date           date,
    final_date         date,
    plan_at            timestamptz,
    due_at             timestamptz,
    rev_at             timestamptz,
    final_at           timestamptz,
    late               boolean,
    submits_quantity   integer,
    shared_with        jsonb NOT NULL DEFAULT '[]'::jsonb,
    assigned_to        jsonb NOT NULL DEFAULT '[]'::jsonb,
    source_updated_at  timestamptz,
    raw_payload        jsonb,
    source_version     numeric,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tracking_plan_material_timeline_material_idx
    ON ops.tracking_plan_material_timeline (plan_material_id);

CREATE TABLE IF NOT EXISTS ops.tracking_timeline_assignment (
    timeline_id    uuid NOT NULL REFERENCES ops.tracking_plan_style_timeline (id),
    assignee_id    uuid NOT NULL,
    assignee_name  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (timeline_id, assignee_id)
);
CREATE INDEX IF NOT EXISTS tracking_timeline_assignment_assignee_idx
    ON ops.tracking_timeline_assignment (assignee_id);

CREATE TABLE IF NOT EXISTS ops.tracking_material_timeline_assignment (
    timeline_id    uuid NOT NULL REFERENCES ops.tracking_plan_material_timeline (id),
    assignee_id    uuid NOT NULL,
    assignee_name  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (timeline_id, assignee_id)
);

-- The inbox and audit trail: one row per distinct received body (dedupe on its hash).
CREATE TABLE IF NOT EXISTS ops.beproduct_sync_log (
    id               bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    body_sha256      bytea NOT NULL,
    action           text,
    entity_type      text NOT NULL DEFAULT 'tracking',
    entity_id        text,
    style_number     text,
    source_at        timestamptz,
    payload          jsonb NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    processed_at     timestamptz,
    status           text NOT NULL DEFAULT 'pending',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    locked_until     timestamptz,
    locked_by        text,
    duration_ms      double precision,
    deliveries       integer NOT NULL DEFAULT 1,
    last_delivery_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    reason           text,
    last_error       text,
    CONSTRAINT beproduct_sync_log_status_check CHECK (
        status IN ('pending', 'processing', 'applied', 'ignored', 'stale', 'failed', 'dead')
    ),
    CONSTRAINT beproduct_sync_log_body_sha256_key UNIQUE (body_sha256)
);
CREATE INDEX IF NOT EXISTS beproduct_sync_log_processed_idx
    ON ops.beproduct_sync_log (processed_at DESC);
-- Workers scan only the rows that still need work.
CREATE INDEX IF NOT EXISTS beproduct_sync_log_todo_idx
    ON ops.beproduct_sync_log (next_attempt_at, id)
    WHERE status IN ('pending', 'processing', 'failed');
CREATE INDEX IF NOT EXISTS beproduct_sync_log_status_idx ON ops.beproduct_sync_log (status);

CREATE TABLE IF NOT EXISTS ops.import_errors (
    id           bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    sync_log_id  bigint REFERENCES ops.beproduct_sync_log (id),
    entity_type  text NOT NULL DEFAULT 'tracking',
    entity_id    text,
    severity     text NOT NULL DEFAULT 'error',
    message      text NOT NULL,
    attempt      integer,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT import_errors_severity_check CHECK (severity IN ('error', 'warning'))
);
CREATE INDEX IF NOT EXISTS import_errors_created_idx ON ops.import_errors (created_at DESC);
CREATE INDEX IF NOT EXISTS import_errors_sync_log_idx ON ops.import_errors (sync_log_id);

-- Supabase: read access for its API roles where they exist (plain Postgres has none). Tables
-- are named one by one, never "ALL TABLES": re-running this file must not widen access to
-- tables later migrations create (one of them holds a credential).
DO $$
DECLARE
    r text;
    t text;
BEGIN
    FOREACH r IN ARRAY ARRAY['service_role', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('GRANT USAGE ON SCHEMA ops TO %I', r);
            FOREACH t IN ARRAY ARRAY[
                'tracking_folder', 'tracking_plan', 'tracking_timeline_template_item',
                'tracking_plan_style', 'tracking_plan_material', 'tracking_plan_style_timeline',
                'tracking_plan_material_timeline', 'tracking_timeline_assignment',
                'tracking_material_timeline_assignment', 'beproduct_sync_log', 'import_errors'
            ] LOOP
                EXECUTE format('GRANT SELECT ON ops.%I TO %I', t, r);
                IF r = 'service_role' THEN
                    EXECUTE format('GRANT INSERT, UPDATE, DELETE ON ops.%I TO %I', t, r);
                END IF;
            END LOOP;
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        GRANT USAGE ON ALL SEQUENCES IN SCHEMA ops TO service_role;
    END IF;
END
$$;

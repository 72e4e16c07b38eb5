-- Enrichment from the BeProduct API (plan names and dates, folder names, milestone names) and
-- readable milestone views. Plain SQL, idempotent, like the core schema.
--
-- ops.enrichment_job is a durable queue of API fetches still to do. A row exists only while
-- work is outstanding: the enricher deletes it on success. Scheduling can therefore be a plain
-- `INSERT ... ON CONFLICT DO NOTHING`, which takes no lock on an existing row, so events of one
-- plan applied concurrently never queue behind one hot job row.
-- kind 'plan': entity_id is the plan id (Tracking/Plan/{id}).
-- kind 'folders': entity_id is the nil uuid (one Tracking/Folders call refreshes every folder).

CREATE TABLE IF NOT EXISTS ops.enrichment_job (
    kind             text NOT NULL,
    entity_id        uuid NOT NULL,
    status           text NOT NULL DEFAULT 'pending',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    locked_until     timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, entity_id),
    CONSTRAINT enrichment_job_kind_check CHECK (kind IN ('plan', 'folders')),
    CONSTRAINT enrichment_job_status_check CHECK (status IN ('pending', 'running', 'failed'))
);
CREATE INDEX IF NOT EXISTS enrichment_job_due_idx
    ON ops.enrichment_job (next_attempt_at);

-- One readable row per style milestone: what it is (definition), whose it is (style, colour),
-- where it sits (plan, folder). Column names are the contract's where they exist; the names of
-- the joined rows are prefixed (milestone_name, plan_name, folder_name) to stay unambiguous.
CREATE OR REPLACE VIEW ops.tracking_plan_style_timeline_detail AS
SELECT
    m.id,
    m.plan_style_id,
    m.template_item_id,
    ti.name            AS milestone_name,
    ti.short_name      AS milestone_short_name,
    ti.department,
    ti.page_name,
    m.status,
    m.status_label,
    m.plan_date,
    m.due_date,
    m.rev_date,
    m.final_date,
    m.late,
    m.submits_quantity,
    m.assigned_to,
    m.shared_with,
    m.source_updated_at,
    s.style_header_id,
    s.style_number,
    s.style_name,
    s.color_id,
    s.color_name,
    s.supplier_name,
    s.active,
    s.deleted_at,
    s.plan_id,
    p.name             AS plan_name,
    p.description      AS plan_description,
    p.start_date,
    p.end_date,
    p.active           AS plan_active,
    p.folder_id,
    f.name             AS folder_name,
    f.brand
FROM ops.tracking_plan_style_timeline m
JOIN ops.tracking_plan_style s ON s.id = m.plan_style_id
JOIN ops.tracking_plan p ON p.id = s.plan_id
LEFT JOIN ops.tracking_timeline_template_item ti ON ti.id = m.template_item_id
LEFT JOIN ops.tracking_folder f ON f.id = p.folder_id;

-- The same for material milestones (the record columns keep the shared style_* names).
CREATE OR REPLACE VIEW ops.tracking_plan_material_timeline_detail AS
SELECT
    m.id,
    m.plan_material_id,
    m.template_item_id,
    ti.name            AS milestone_name,
    ti.short_name      AS milestone_short_name,
    ti.department,
    ti.page_name,
    m.status,
    m.status_label,
    m.plan_date,
    m.due_date,
    m.rev_date,
    m.final_date,
    m.late,
    m.submits_quantity,
    m.assigned_to,
    m.shared_with,
    m.source_updated_at,
    s.style_header_id,
    s.style_number,
    s.style_name,
    s.color_id,
    s.color_name,
    s.supplier_name,
    s.active,
    s.deleted_at,
    s.plan_id,
    p.name             AS plan_name,
    p.description      AS plan_description,
    p.start_date,
    p.end_date,
    p.active           AS plan_active,
    p.folder_id,
    f.name             AS folder_name,
    f.brand
FROM ops.tracking_plan_material_timeline m
JOIN ops.tracking_plan_material s ON s.id = m.plan_material_id
JOIN ops.tracking_plan p ON p.id = s.plan_id
LEFT JOIN ops.tracking_timeline_template_item ti ON ti.id = m.template_item_id
LEFT JOIN ops.tracking_folder f ON f.id = p.folder_id;

-- Supabase: the API roles read the views; only service_role touches the job queue.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['service_role', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('GRANT SELECT ON ops.tracking_plan_style_timeline_detail TO %I', r);
            EXECUTE format('GRANT SELECT ON ops.tracking_plan_material_timeline_detail TO %I', r);
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        GRANT ALL ON ops.enrichment_job TO service_role;
    END IF;
END
$$;

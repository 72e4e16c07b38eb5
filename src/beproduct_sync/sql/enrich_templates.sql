-- Milestone definitions from a plan's style.timelines[] / material.timelines[].
-- Versioned like webhook definitions (an OnChange's timeLineSchema): the API text wins only
-- when the plan's modifiedAt is newer than the stored version; otherwise it only fills fields
-- that are still empty (e.g. stubs created from an OnCreate, which carries no names).
INSERT INTO ops.tracking_timeline_template_item AS t (
    id, plan_id, master_folder, name, short_name, department, page_name, raw_payload,
    source_version, enriched_at)
SELECT x.id, x.plan_id, x.master_folder, x.name, x.short_name, x.department, x.page_name,
       x.raw_payload, x.source_version, %(enriched_at)s
FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(
    id uuid, plan_id uuid, master_folder text, name text, short_name text, department text,
    page_name text, raw_payload jsonb, source_version numeric)
ON CONFLICT (id) DO UPDATE SET
    plan_id = coalesce(t.plan_id, excluded.plan_id),
    master_folder = coalesce(t.master_folder, excluded.master_folder),
    name = CASE WHEN excluded.source_version > coalesce(t.source_version, -1)
                THEN coalesce(excluded.name, t.name) ELSE coalesce(t.name, excluded.name) END,
    short_name = CASE WHEN excluded.source_version > coalesce(t.source_version, -1)
                THEN coalesce(excluded.short_name, t.short_name)
                ELSE coalesce(t.short_name, excluded.short_name) END,
    department = CASE WHEN excluded.source_version > coalesce(t.source_version, -1)
                THEN coalesce(excluded.department, t.department)
                ELSE coalesce(t.department, excluded.department) END,
    page_name = CASE WHEN excluded.source_version > coalesce(t.source_version, -1)
                THEN coalesce(excluded.page_name, t.page_name)
                ELSE coalesce(t.page_name, excluded.page_name) END,
    raw_payload = CASE WHEN excluded.source_version > coalesce(t.source_version, -1)
                         OR t.raw_payload IS NULL
                THEN excluded.raw_payload ELSE t.raw_payload END,
    source_version = CASE WHEN excluded.source_version > coalesce(t.source_version, -1)
                THEN excluded.source_version ELSE t.source_version END,
    enriched_at = excluded.enriched_at,
    updated_at = now()

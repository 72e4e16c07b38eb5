-- Milestone definitions carried by an OnChange's timeLineSchema; newer versions win.
INSERT INTO ops.tracking_timeline_template_item AS t
    (id, plan_id, master_folder, name, short_name, department, page_name, raw_payload,
     source_version)
SELECT x.id, x.plan_id, x.master_folder, x.name, x.short_name, x.department, x.page_name,
       x.raw_payload, x.source_version
FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(
    id uuid, plan_id uuid, master_folder text, name text, short_name text, department text,
    page_name text, raw_payload jsonb, source_version numeric)
ON CONFLICT (id) DO UPDATE SET
    plan_id = coalesce(excluded.plan_id, t.plan_id),
    master_folder = coalesce(excluded.master_folder, t.master_folder),
    name = excluded.name,
    short_name = excluded.short_name,
    department = excluded.department,
    page_name = excluded.page_name,
    raw_payload = excluded.raw_payload,
    source_version = excluded.source_version,
    updated_at = now()
WHERE excluded.source_version > coalesce(t.source_version, -1)
RETURNING t.id::text AS id

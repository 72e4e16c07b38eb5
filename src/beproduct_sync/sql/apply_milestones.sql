-- Milestone instances: one versioned group; an older event never overwrites a newer state.
INSERT INTO {timeline_table} AS t (
    id, {parent_column}, template_item_id, status, status_label, plan_date, due_date, rev_date,
    final_date, plan_at, due_at, rev_at, final_at, late, submits_quantity, shared_with,
    assigned_to, source_updated_at, raw_payload, source_version)
SELECT x.id, x.parent_id, x.template_item_id, x.status::ops.timeline_status, x.status_label,
       x.plan_date, x.due_date, x.rev_date, x.final_date, x.plan_at, x.due_at, x.rev_at,
       x.final_at, x.late, x.submits_quantity, coalesce(x.shared_with, '[]'::jsonb),
       coalesce(x.assigned_to, '[]'::jsonb), x.source_updated_at, x.raw_payload, x.source_version
FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(
    id uuid, parent_id uuid, template_item_id uuid, status text, status_label text,
    plan_date date, due_date date, rev_date date, final_date date, plan_at timestamptz,
    due_at timestamptz, rev_at timestamptz, final_at timestamptz, late boolean,
    submits_quantity integer, shared_with jsonb, assigned_to jsonb,
    source_updated_at timestamptz, raw_payload jsonb, source_version numeric)
ON CONFLICT (id) DO UPDATE SET
    {parent_column} = excluded.{parent_column},
    template_item_id = coalesce(excluded.template_item_id, t.template_item_id),
    status = excluded.status,
    status_label = excluded.status_label,
    plan_date = excluded.plan_date,
    due_date = excluded.due_date,
    rev_date = excluded.rev_date,
    final_date = excluded.final_date,
    plan_at = excluded.plan_at,
    due_at = excluded.due_at,
    rev_at = excluded.rev_at,
    final_at = excluded.final_at,
    late = excluded.late,
    submits_quantity = excluded.submits_quantity,
    shared_with = excluded.shared_with,
    assigned_to = excluded.assigned_to,
    source_updated_at = excluded.source_updated_at,
    raw_payload = excluded.raw_payload,
    source_version = excluded.source_version,
    updated_at = now()
WHERE excluded.source_version > coalesce(t.source_version, -1)

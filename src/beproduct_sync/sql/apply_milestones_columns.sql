-- The columns of apply_milestones' rows (as JSON or in a staging table); one `name type` each.
    id uuid, parent_id uuid, template_item_id uuid, status text, status_label text,
    plan_date date, due_date date, rev_date date, final_date date, plan_at timestamptz,
    due_at timestamptz, rev_at timestamptz, final_at timestamptz, late boolean,
    submits_quantity integer, shared_with jsonb, assigned_to jsonb, assignees jsonb,
    source_updated_at timestamptz, raw_payload jsonb, source_version numeric

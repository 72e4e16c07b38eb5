-- Milestone instances and their assignments, in one statement.
-- A milestone row is one versioned group: an older event never overwrites a newer state. The
-- assignment set of a milestone is the AssignedTo list of the event that owns its current
-- version, so assignments are replaced only for the milestones this event won (`up`): a stale
-- event leaves them alone. (Foreign keys are checked at the end of the statement, after `up`.)
WITH x AS (
    SELECT *
    FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(
        id uuid, parent_id uuid, template_item_id uuid, status text, status_label text,
        plan_date date, due_date date, rev_date date, final_date date, plan_at timestamptz,
        due_at timestamptz, rev_at timestamptz, final_at timestamptz, late boolean,
        submits_quantity integer, shared_with jsonb, assigned_to jsonb, assignees jsonb,
        source_updated_at timestamptz, raw_payload jsonb, source_version numeric)
),
up AS (
    INSERT INTO {timeline_table} AS t (
        id, {parent_column}, template_item_id, status, status_label, plan_date, due_date,
        rev_date, final_date, plan_at, due_at, rev_at, final_at, late, submits_quantity,
        shared_with, assigned_to, source_updated_at, raw_payload, source_version)
    SELECT x.id, x.parent_id, x.template_item_id, x.status::ops.timeline_status, x.status_label,
           x.plan_date, x.due_date, x.rev_date, x.final_date, x.plan_at, x.due_at, x.rev_at,
           x.final_at, x.late, x.submits_quantity, coalesce(x.shared_with, '[]'::jsonb),
           coalesce(x.assigned_to, '[]'::jsonb), x.source_updated_at, x.raw_payload,
           x.source_version
    FROM x
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
    RETURNING t.id
),
wanted AS (
    SELECT DISTINCT ON (x.id, (a->>'assignee_id')::uuid)
           x.id AS timeline_id, (a->>'assignee_id')::uuid AS assignee_id,
           a->>'assignee_name' AS assignee_name
    FROM x JOIN up ON up.id = x.id, jsonb_array_elements(x.assignees) AS a
),
removed AS (
    DELETE FROM {assignment_table} d
    USING up
    WHERE d.timeline_id = up.id
      AND NOT EXISTS (SELECT 1 FROM wanted w
                      WHERE w.timeline_id = d.timeline_id AND w.assignee_id = d.assignee_id)
    RETURNING 1
),
added AS (
    INSERT INTO {assignment_table} AS t (timeline_id, assignee_id, assignee_name)
    SELECT timeline_id, assignee_id, assignee_name FROM wanted
    ON CONFLICT (timeline_id, assignee_id) DO UPDATE SET
        assignee_name = excluded.assignee_name, updated_at = now()
    WHERE t.assignee_name IS DISTINCT FROM excluded.assignee_name
    RETURNING 1
)
SELECT coalesce((SELECT array_agg(id::text) FROM up), '{{}}') AS milestones,
       (SELECT count(*) FROM removed) + (SELECT count(*) FROM added) AS assignments

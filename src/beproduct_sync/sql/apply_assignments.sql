-- The assignment set of each milestone is the AssignedTo list of the event that owns the
-- milestone's current version: runs after apply_milestones, and touches only milestones this
-- event won (version equal to the event's), so a stale event leaves assignments alone.
WITH won AS (
    SELECT x.id, x.assignees
    FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(id uuid, assignees jsonb, source_version numeric)
    JOIN {timeline_table} t ON t.id = x.id AND t.source_version = x.source_version
),
wanted AS (
    SELECT won.id AS timeline_id, (a->>'assignee_id')::uuid AS assignee_id,
           a->>'assignee_name' AS assignee_name
    FROM won, jsonb_array_elements(won.assignees) AS a
),
removed AS (
    DELETE FROM {assignment_table} d
    USING won
    WHERE d.timeline_id = won.id
      AND NOT EXISTS (SELECT 1 FROM wanted w
                      WHERE w.timeline_id = d.timeline_id AND w.assignee_id = d.assignee_id)
    RETURNING 1
),
added AS (
    INSERT INTO {assignment_table} AS t (timeline_id, assignee_id, assignee_name)
    SELECT DISTINCT ON (timeline_id, assignee_id) timeline_id, assignee_id, assignee_name
    FROM wanted
    ON CONFLICT (timeline_id, assignee_id) DO UPDATE SET
        assignee_name = excluded.assignee_name, updated_at = now()
    WHERE t.assignee_name IS DISTINCT FROM excluded.assignee_name
    RETURNING 1
)
SELECT (SELECT count(*) FROM removed) + (SELECT count(*) FROM added)

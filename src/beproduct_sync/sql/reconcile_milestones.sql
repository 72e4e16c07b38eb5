-- The stored milestones of one plan, in the form reconcile compares with the API's: the status,
-- the calendar dates, the assignee and share id sets, and the version that wrote them.
SELECT m.id::text AS id, m.{parent_column}::text AS parent, m.status::text AS status,
       m.status_label, m.plan_date::text AS plan_date, m.due_date::text AS due_date,
       m.rev_date::text AS rev_date, m.final_date::text AS final_date,
       m.source_version::text AS version,
       coalesce((SELECT array_agg(a.assignee_id::text ORDER BY a.assignee_id)
                 FROM {assignment_table} a WHERE a.timeline_id = m.id), '{{}}') AS assignees,
       coalesce((SELECT array_agg(DISTINCT s->>'code' ORDER BY s->>'code')
                 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(m.shared_with) = 'array'
                                                THEN m.shared_with ELSE '[]'::jsonb END) s
                 WHERE jsonb_typeof(s) = 'object' AND s->>'code' IS NOT NULL), '{{}}') AS shared
FROM {timeline_table} m
JOIN {record_table} r ON r.id = m.{parent_column}
WHERE r.plan_id = %(plan_id)s

SELECT m.id::text, m.{parent_column}::text, m.status::text, m.status_label, m.plan_date::text,
       m.due_date::text, m.rev_date::text, m.final_date::text, m.late,
       coalesce((SELECT array_agg(a.assignee_id::text ORDER BY a.assignee_id)
                 FROM {assignment_table} a WHERE a.timeline_id = m.id), '{{}}') AS assignees
FROM {timeline_table} m
JOIN {record_table} r ON r.id = m.{parent_column}
WHERE r.plan_id = %(plan_id)s

-- One assignee's open milestones whose target falls in a window (overdue ones with today's).
SELECT m.id, m.plan_id, m.plan_name, m.style_number, m.style_name, m.color_name,
       m.milestone_name, m.status, m.status_label, m.target_date, m.is_late_now, m.days_late,
       m.entity_type
FROM ops_api.user_milestones(%(assignee)s) m
WHERE greatest(m.target_date, ops_api.today()) BETWEEN %(from)s AND %(to)s
ORDER BY m.target_date, m.plan_name, m.style_number, m.milestone_name

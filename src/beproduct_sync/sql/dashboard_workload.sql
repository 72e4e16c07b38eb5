-- Open and late milestones per assignee and week, from this week on (ops_api.user_workload).
SELECT assignee_id, assignee_name, week_start, open_milestones, late_milestones, plan_names
FROM ops_api.user_workload(NULL, %(from)s, %(to)s)

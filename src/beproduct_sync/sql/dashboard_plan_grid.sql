-- The cells of a plan's styles x milestones grid: every milestone of its active styles with
-- live lateness and its projection (ops_api.plan_milestones computes them once for the plan).
SELECT m.entity_id, m.style_number, m.style_name, m.color_name, m.template_item_id,
       m.milestone_name, m.short_name, m.department, m.status, m.status_label,
       m.plan_date, m.target_date, m.final_date, m.is_late_now, m.days_late,
       m.projected_end, m.on_critical_path, m.depth
FROM ops_api.plan_milestones(%(plan)s) m
WHERE m.entity_type = 'style'

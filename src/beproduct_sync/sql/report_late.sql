-- Milestones late now, most days late first (one plan, or every plan).
SELECT * FROM ops_api.milestone_state
WHERE is_late_now AND entity_active AND (%(plan)s::uuid IS NULL OR plan_id = %(plan)s)
ORDER BY days_late DESC, plan_name, style_number, milestone_name
LIMIT %(limit)s

-- The chain of milestones that decides one style's last projected end, in order.
SELECT id, milestone_name, status, plan_date, target_date, start_date_plan, projected_start,
       projected_end, is_late_now, days_late, slack_days
FROM ops_api.critical_path(%(entity)s)

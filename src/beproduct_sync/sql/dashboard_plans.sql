-- Every plan with its progress and health in one pass over the milestones (not one
-- ops_api.plan_progress call per plan): completion, late now, max days late and the risk
-- level from ops.read_settings, computed as plan_progress computes them (a test compares the
-- two for every plan). Active plans first, newest start first.
WITH m AS (
    SELECT plan_id, count(*) AS total,
           count(*) FILTER (WHERE is_completed) AS completed,
           count(*) FILTER (WHERE is_late_now) AS late,
           coalesce(max(days_late), 0) AS max_days_late
    FROM ops_api.milestone_state
    WHERE entity_active
    GROUP BY plan_id
)
SELECT p.id, p.name, p.folder_name, p.start_date, p.end_date, p.active, p.styles,
       p.materials,
       jsonb_build_object(
           'total', coalesce(m.total, 0),
           'completed', coalesce(m.completed, 0),
           'completion_pct', CASE WHEN m.total > 0
                                  THEN round(100.0 * m.completed / m.total, 1) ELSE 0 END,
           'late', coalesce(m.late, 0),
           'health', jsonb_build_object(
               'max_days_late', coalesce(m.max_days_late, 0),
               'risk_level',
               CASE WHEN coalesce(m.max_days_late, 0) >= coalesce(s.risk_critical_from, 30)
                        THEN 'critical'
                    WHEN coalesce(m.max_days_late, 0) >= coalesce(s.risk_high_from, 14)
                        THEN 'high'
                    WHEN coalesce(m.max_days_late, 0) >= coalesce(s.risk_medium_from, 7)
                        THEN 'medium'
                    ELSE 'low' END)) AS progress
FROM ops_api.plans p
LEFT JOIN m ON m.plan_id = p.id
LEFT JOIN ops.read_settings s ON s.id
ORDER BY p.active DESC, p.start_date DESC NULLS LAST, p.name, p.id

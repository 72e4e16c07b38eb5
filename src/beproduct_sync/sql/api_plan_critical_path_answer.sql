-- GET /plans/{id}/critical-path in one statement (one round trip instead of four): whether the
-- plan exists, its end date, its rows' ends (latest first; the first `limit` as JSON) and the
-- chain deciding the latest row's end (ops_api.critical_path of that row, computed for it
-- alone), as JSON rows of ops_api.milestone_row.
WITH ends AS MATERIALIZED (
    SELECT e.* FROM ops_api.plan_critical_path(%(plan)s) WITH ORDINALITY AS e
),
plan AS MATERIALIZED (
    SELECT p.end_date FROM ops.tracking_plan p WHERE p.id = %(plan)s
)
SELECT EXISTS (SELECT 1 FROM plan) AS found,
       (SELECT p.end_date FROM plan p) AS plan_end_date,
       (SELECT count(*) FROM ends) AS entities,
       (SELECT count(*) FROM ends WHERE ends.days_past_plan_end > 0) AS missing_plan_end,
       coalesce((SELECT jsonb_agg(to_jsonb(e) - 'ordinality' ORDER BY e.ordinality)
                 FROM (SELECT * FROM ends ORDER BY ends.ordinality LIMIT %(limit)s) e),
                '[]'::jsonb) AS latest,
       coalesce((SELECT jsonb_agg(to_jsonb(m) ORDER BY m.depth)
                 FROM ops_api.entity_milestones(
                          %(plan)s,
                          ARRAY(SELECT ends.entity_id FROM ends ORDER BY ends.ordinality LIMIT 1)) m
                 WHERE m.on_critical_path),
                '[]'::jsonb) AS chain

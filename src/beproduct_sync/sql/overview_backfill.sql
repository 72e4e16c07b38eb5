-- The latest backfill runs with their progress over every (plan, kind) they walk.
SELECT r.run_key, r.started_at, r.finished_at,
       count(c.plan_id) AS parts,
       count(c.plan_id) FILTER (WHERE c.done) AS parts_done,
       coalesce(sum(c.rows_done), 0) AS rows_done,
       sum(c.total) AS rows_total,
       max(c.updated_at) AS updated_at
FROM ops.backfill_run AS r
LEFT JOIN ops.backfill_checkpoint AS c ON c.run_key = r.run_key
GROUP BY r.run_key, r.started_at, r.finished_at
ORDER BY r.started_at DESC
LIMIT %(limit)s

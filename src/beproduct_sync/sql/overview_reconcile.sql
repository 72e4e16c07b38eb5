-- The latest reconcile passes, newest first.
SELECT id, started_at, finished_at, fix, plans, drift, newer_here, fixed, error
FROM ops.reconcile_run
ORDER BY started_at DESC, id DESC
LIMIT %(limit)s

-- A reconcile pass ended: its totals, or the error that stopped it.
UPDATE ops.reconcile_run
SET finished_at = now(), plans = %(plans)s, drift = %(drift)s, newer_here = %(newer_here)s,
    fixed = %(fixed)s, error = %(error)s
WHERE id = %(id)s

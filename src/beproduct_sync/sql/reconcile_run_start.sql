-- A reconcile pass begins (what the dashboard shows as the last reconcile).
INSERT INTO ops.reconcile_run (fix) VALUES (%(fix)s) RETURNING id

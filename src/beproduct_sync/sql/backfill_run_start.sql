-- (Re)start a run from scratch: a finished run with the same options is a new pass.
WITH gone AS (DELETE FROM ops.backfill_checkpoint WHERE run_key = %(run_key)s)
INSERT INTO ops.backfill_run AS r (run_key, options, snapshot_at)
VALUES (%(run_key)s, %(options)s, now())
ON CONFLICT (run_key) DO UPDATE SET
    options = excluded.options, snapshot_at = now(), started_at = now(), finished_at = NULL
RETURNING snapshot_at

-- A worker process exited (its supervisor saw it): hand back every event its workers held, due
-- at once, and forget the process. Events it had not begun applying are not charged the claim;
-- those in flight keep it (one of them may be what killed the process).
WITH released AS (
    UPDATE ops.beproduct_sync_log
    SET status = CASE WHEN attempts > 0 THEN 'failed' ELSE 'pending' END,
        locked_until = NULL,
        locked_by = NULL,
        claims = CASE WHEN apply_started_at IS NULL THEN greatest(claims - 1, 0) ELSE claims END,
        apply_started_at = NULL
    WHERE status = 'processing' AND split_part(locked_by, '/', 1) = %(process)s
    RETURNING id
), forgotten AS (
    DELETE FROM ops.worker_process WHERE id = %(process)s
)
SELECT count(*) FROM released

-- Hand back claimed events that were not started (shutdown): due at once for any worker.
-- A row that failed before goes back to 'failed' so its history still reads right. The claim
-- is taken back too: an event never started must not count towards being dead-lettered.
UPDATE ops.beproduct_sync_log
SET status = CASE WHEN attempts > 0 THEN 'failed' ELSE 'pending' END,
    locked_until = NULL,
    locked_by = NULL,
    apply_started_at = NULL,
    claims = greatest(claims - 1, 0)
WHERE id = ANY(%(ids)s) AND status = 'processing' AND locked_by = %(worker)s

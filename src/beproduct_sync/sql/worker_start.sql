-- Mark events this worker is about to apply, committed before the apply's transaction begins:
-- if the worker dies now, these are the events in flight, the only ones a takeover charges.
UPDATE ops.beproduct_sync_log
SET apply_started_at = now()
WHERE id = ANY(%(ids)s) AND status = 'processing' AND locked_by = %(worker)s

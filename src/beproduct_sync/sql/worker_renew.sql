-- Extend the lease on events this worker still holds; returns the ids it still owns (a row
-- whose lease already ran out may have been claimed by another worker in the meantime).
UPDATE ops.beproduct_sync_log
SET locked_until = now() + make_interval(secs => %(lease_seconds)s)
WHERE id = ANY(%(ids)s) AND status = 'processing' AND locked_by = %(worker)s
RETURNING id

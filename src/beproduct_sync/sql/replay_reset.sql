-- Send chosen events back to the queue: attempts and claims start again and they are due now,
-- while ops.import_errors keeps the history of earlier attempts. With a claimant (replay --now) the
-- rows come back already claimed by it under a lease, so if the replaying process dies the
-- workers pick them up when the lease runs out. The status re-check skips rows a worker took
-- between listing and reset.
UPDATE ops.beproduct_sync_log
SET status = CASE WHEN %(claimant)s::text IS NULL THEN 'pending' ELSE 'processing' END,
    attempts = 0,
    claims = 0,
    next_attempt_at = clock_timestamp(),
    locked_by = %(claimant)s::text,
    locked_until = CASE WHEN %(claimant)s::text IS NULL THEN NULL
                        ELSE clock_timestamp() + make_interval(secs => %(lease_seconds)s) END,
    reason = NULL,
    apply_started_at = NULL
WHERE id = ANY(%(ids)s::bigint[]) AND status = ANY(%(statuses)s::text[])
RETURNING id, payload, body_sha256 AS digest, attempts, received_at, action, claims

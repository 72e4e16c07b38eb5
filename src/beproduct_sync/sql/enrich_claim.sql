-- Claim up to %(limit)s due enrichment jobs under a lease: pending or failed jobs whose time has
-- come, and running jobs whose enricher died (lease ran out). SKIP LOCKED lets several
-- enrichers (serve and worker processes) take disjoint batches. `claimed_at` is when the fetch
-- starts: what the API answers is at least that fresh, so it becomes the rows' enriched_at.
WITH picked AS (
    SELECT kind, entity_id
    FROM ops.enrichment_job
    WHERE (status IN ('pending', 'failed') AND next_attempt_at <= now())
       OR (status = 'running' AND locked_until < now())
    ORDER BY next_attempt_at, created_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE ops.enrichment_job AS j
SET status = 'running',
    locked_until = now() + make_interval(secs => %(lease_seconds)s),
    updated_at = now()
FROM picked
WHERE j.kind = picked.kind AND j.entity_id = picked.entity_id
RETURNING j.kind, j.entity_id::text AS entity_id, j.attempts, now() AS claimed_at

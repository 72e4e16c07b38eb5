-- The enrichment queue at a glance: its oldest job, the most attempts, the latest failure.
SELECT min(created_at) AS oldest,
       coalesce(max(attempts), 0) AS max_attempts,
       (SELECT last_error FROM ops.enrichment_job
        WHERE last_error IS NOT NULL ORDER BY updated_at DESC LIMIT 1) AS last_error
FROM ops.enrichment_job
